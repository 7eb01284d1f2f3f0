import { describe, expect, it } from "vitest";
import { withSpinner } from "./spinner.ts";

/** Carriage return + erase line: how the spinner redraws in place. */
const CLEAR_LINE = "\r\x1b[2K";

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (c: string) => chunks.push(c) > 0 };
}

describe("withSpinner", () => {
  it("writes nothing when the stream is not a TTY", async () => {
    const stream = fakeStream(false);
    expect(await withSpinner("Creating", async () => 42, { stream })).toBe(42);
    expect(stream.chunks).toEqual([]);
  });

  it("animates on a TTY and ends with a check mark line", async () => {
    const stream = fakeStream(true);
    await withSpinner("Creating", () => new Promise((r) => setTimeout(r, 60)), { stream, intervalMs: 10 });
    expect(stream.chunks.length).toBeGreaterThan(2);
    const first = stream.chunks[0] ?? "";
    const last = stream.chunks.at(-1) ?? "";
    expect(first.startsWith(CLEAR_LINE)).toBe(true);
    expect(first.slice(CLEAR_LINE.length)).toMatch(/^. Creating 0\.\ds$/);
    expect(last.startsWith(CLEAR_LINE)).toBe(true);
    expect(last.slice(CLEAR_LINE.length)).toMatch(/^✓ Creating \(\d+\.\ds\)\n$/);
  });

  it("marks a failure and rethrows it", async () => {
    const stream = fakeStream(true);
    await expect(
      withSpinner("Pausing", async () => Promise.reject(new Error("nope")), { stream }),
    ).rejects.toThrow("nope");
    expect(stream.chunks.at(-1)).toMatch(/✗ Pausing/);
  });
});
