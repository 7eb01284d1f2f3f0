import { CommandExitError, Sandbox } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError } from "../lib/errors.ts";

/** The guest command line: all or the last `tail` lines, then (with `follow`) only new ones. */
export function dmesgScript(follow: boolean, tail: number | undefined): string {
  if (!follow) return tail ? `dmesg | tail -n ${tail}` : "dmesg";
  return tail ? `dmesg | tail -n ${tail}; exec dmesg --follow-new` : "exec dmesg --follow";
}

/**
 * `wrenn sandbox logs <id>`: the guest's kernel log. The platform keeps no per-sandbox log of
 * its own (no log route in the API; the audit trail is for user sessions, not API keys), so
 * this reads what the sandbox itself records — boot, OOM kills, segfaults, disk and network
 * messages — through the same exec path as `wrenn sandbox exec`, as root (dmesg is restricted).
 */
const options = {
  follow: { type: "boolean", short: "f", default: false },
  tail: { type: "string", short: "n" },
} as const satisfies Options;

export const logsCommand: Subcommand = {
  summary: "Print a sandbox's kernel log (boot, OOM kills, crashes); -f follows it",
  usage: `Usage: wrenn sandbox logs <id> [-f|--follow] [-n|--tail N]

Prints the sandbox's kernel log (dmesg inside the guest: boot messages, OOM kills, segfaults,
disk and network events), with timestamps in seconds since the sandbox booted.
Wrenn has no separate log store for sandboxes; output of your own programs is in whatever
files they write (read them with 'wrenn files get' or 'wrenn sandbox exec … -- tail -f FILE').
A paused sandbox is not resumed for this: resume it first.

Options:
  -f, --follow   keep printing new messages until Ctrl-C
  -n, --tail N   only the last N lines`,
  options,
  json: false,
  async run(argv) {
    const { values, positionals } = parse(argv, options, { json: false });
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    const tail = intFlag("tail", values.tail, 1, 1_000_000);
    const conn = await connection();
    const info = await Sandbox.getInfo(id, conn);
    if (info.state !== "running") {
      throw new CliError(
        `sandbox ${id} is ${info.state}; its log is read from inside the guest${info.state === "paused" ? ` (resume it with 'wrenn sandbox resume ${id}')` : ""}`,
        ExitCode.conflict,
      );
    }
    const sandbox = await Sandbox.connect(id, conn);
    const handle = await sandbox.commands.run(dmesgScript(values.follow, tail), {
      background: true,
      stdin: false,
      user: "root",
      onStdout: (d) => {
        process.stdout.write(d);
      },
      onStderr: (d) => {
        process.stderr.write(d);
      },
    });
    const onSigint = () => {
      void handle.kill().finally(() => process.exit(ExitCode.ok));
    };
    process.once("SIGINT", onSigint);
    try {
      await handle.wait();
      return ExitCode.ok;
    } catch (err) {
      if (err instanceof CommandExitError)
        throw new CliError(`reading the kernel log failed: ${err.stderr.trim() || err.message}`);
      throw err;
    } finally {
      process.off("SIGINT", onSigint);
    }
  },
};
