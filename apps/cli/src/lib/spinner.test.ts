import { describe, expect, it } from "vitest";
import { Spinner, withSpinner } from "./spinner.ts";

/** Carriage return + erase line: how the spinner redraws in place. */
const CLEAR_LINE = "\r\x1b[2K";
const tty = { isTTY: true };

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (c: string) => chunks.push(c) > 0 };
}

const slow = () => new Promise((r) => setTimeout(r, 60));

describe("withSpinner", () => {
  it.each([
    ["stderr is not a TTY", false, tty, false],
    ["stdout is not a TTY (a pipe or $(…))", true, { isTTY: false }, false],
    ["--json", true, tty, true],
  ])("draws nothing when %s, and still runs the work", async (_why, stderrTTY, stdout, json) => {
    const stream = fakeStream(stderrTTY);
    const result = await withSpinner(
      "Creating",
      async (s) => {
        await slow();
        s.update("Creating 5 MiB");
        s.log("a line", () => undefined);
        return 42;
      },
      { stream, stdout, json, intervalMs: 5 },
    );
    expect(result).toBe(42);
    expect(stream.chunks).toEqual([]);
  });

  it("animates on a TTY and ends with a check mark line", async () => {
    const stream = fakeStream(true);
    await withSpinner("Creating", slow, { stream, stdout: tty, intervalMs: 10 });
    expect(stream.chunks.length).toBeGreaterThan(2);
    const first = stream.chunks[0] ?? "";
    const last = stream.chunks.at(-1) ?? "";
    expect(first.startsWith(CLEAR_LINE)).toBe(true);
    expect(first.slice(CLEAR_LINE.length)).toMatch(/^. Creating 0\.\ds$/);
    expect(last.startsWith(CLEAR_LINE)).toBe(true);
    expect(last.slice(CLEAR_LINE.length)).toMatch(/^✓ Creating \(\d+\.\ds\)\n$/);
  });

  it("draws an updated label on the next frame", async () => {
    const stream = fakeStream(true);
    await withSpinner(
      "Uploading",
      async (s) => {
        s.update("Uploading 1.0 MiB / 2.0 MiB");
        await slow();
      },
      { stream, stdout: tty, intervalMs: 10 },
    );
    expect(stream.chunks.some((c) => c.includes("Uploading 1.0 MiB / 2.0 MiB"))).toBe(true);
  });

  it("marks a failure and rethrows it", async () => {
    const stream = fakeStream(true);
    await expect(
      withSpinner("Pausing", async () => Promise.reject(new Error("nope")), { stream, stdout: tty }),
    ).rejects.toThrow("nope");
    expect(stream.chunks.at(-1)).toMatch(/✗ Pausing/);
  });
});

describe("Spinner.log", () => {
  it("clears the spinner line, prints the line, and redraws", () => {
    const stream = fakeStream(true);
    const lines: string[] = [];
    const s = Spinner.start("Building", { stream, stdout: tty });
    s.log("==> step", (t) => void lines.push(t));
    s.succeed("Built");
    expect(lines).toEqual(["==> step\n"]);
    expect(stream.chunks[1]).toBe(CLEAR_LINE);
    const last = stream.chunks.at(-1) ?? "";
    expect(last.startsWith(CLEAR_LINE)).toBe(true);
    expect(last.slice(CLEAR_LINE.length)).toMatch(/^✓ Built \(\d+\.\ds\)\n$/);
  });

  it("without a terminal, only prints the line", () => {
    const stream = fakeStream(false);
    const lines: string[] = [];
    const s = Spinner.start("Building", { stream, stdout: tty });
    s.log("==> step", (t) => void lines.push(t));
    s.succeed();
    expect(lines).toEqual(["==> step\n"]);
    expect(stream.chunks).toEqual([]);
  });
});
