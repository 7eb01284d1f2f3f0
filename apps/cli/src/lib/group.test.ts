import { afterEach, describe, expect, it, vi } from "vitest";
import type { Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { CliError, UsageError } from "./errors.ts";
import { commandGroup } from "./group.ts";

/** Captures console.log / console.error lines while a command runs. */
function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  return { out, err };
}
afterEach(() => vi.restoreAllMocks());

const seen: string[][] = [];
const echo: Subcommand = {
  summary: "echo the args",
  usage: "Usage: wrenn demo echo [args…]",
  async run(argv) {
    seen.push(argv);
    return ExitCode.ok;
  },
};
const fail = (err: unknown): Subcommand => ({
  summary: "fails",
  usage: "Usage: wrenn demo fail",
  run: async () => Promise.reject(err),
});

describe("commandGroup", () => {
  it("lists its subcommands for --help (exit 0) and for no subcommand (exit 2)", async () => {
    const group = commandGroup("demo", "A demo", { echo });
    const c = capture();
    expect(await group.run(["--help"])).toBe(ExitCode.ok);
    expect(c.out.join("\n")).toContain("  echo  echo the args");
    expect(await group.run([])).toBe(ExitCode.usage);
    expect(c.err.join("\n")).toContain("Usage: wrenn demo <subcommand>");
  });

  it("answers a subcommand's --help with its usage, unless the flag comes after --", async () => {
    const group = commandGroup("demo", "A demo", { echo });
    const c = capture();
    expect(await group.run(["echo", "x", "-h"])).toBe(ExitCode.ok);
    expect(c.out).toEqual(["Usage: wrenn demo echo [args…]"]);
    expect(await group.run(["echo", "x", "--", "ls", "--help"])).toBe(ExitCode.ok);
    expect(seen.at(-1)).toEqual(["x", "--", "ls", "--help"]);
  });

  it("rejects an unknown subcommand with exit 2", async () => {
    const c = capture();
    expect(await commandGroup("demo", "A demo", { echo }).run(["nope"])).toBe(ExitCode.usage);
    expect(c.err[0]).toMatch(/^wrenn demo: unknown subcommand 'nope'/);
  });

  it("turns anything thrown into one stderr line and the mapped exit code", async () => {
    const c = capture();
    const sdkNotFound = Object.assign(new Error("sandbox not found\n    at stack (x.ts:1:1)"), {
      name: "NotFoundError",
      code: "not_found",
    });
    const group = commandGroup("demo", "A demo", {
      missing: fail(sdkNotFound),
      usage: fail(new UsageError("missing <id>")),
      conflict: fail(new CliError("is paused", ExitCode.conflict)),
    });
    expect(await group.run(["missing"])).toBe(ExitCode.notFound);
    expect(await group.run(["usage"])).toBe(ExitCode.usage);
    expect(await group.run(["conflict"])).toBe(ExitCode.conflict);
    expect(c.err).toEqual([
      "wrenn demo missing: sandbox not found",
      "wrenn demo usage: missing <id> (see 'wrenn demo usage --help')",
      "wrenn demo conflict: is paused",
    ]);
  });
});
