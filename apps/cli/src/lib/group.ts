import type { Command, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { CliError, errorMessage, exitCodeFor, UsageError } from "./errors.ts";

/** True when `--help`/`-h` appears before a `--` separator. */
function wantsHelp(argv: string[]): boolean {
  const dash = argv.indexOf("--");
  return (dash === -1 ? argv : argv.slice(0, dash)).some((a) => a === "--help" || a === "-h");
}

/** The group's own help: its subcommands with their summaries. */
function groupUsage(name: string, summary: string, subs: Record<string, Subcommand>): string {
  const width = Math.max(...Object.keys(subs).map((s) => s.length));
  const lines = Object.entries(subs).map(([s, sub]) => `  ${s.padEnd(width)}  ${sub.summary}`);
  return `${summary}\n\nUsage: wrenn ${name} <subcommand> [options]\n\nSubcommands:\n${lines.join("\n")}\n\nRun 'wrenn ${name} <subcommand> --help' for its options.`;
}

/**
 * Builds a {@link Command} that dispatches to subcommands and is the one place where a
 * subcommand's failure becomes a single `wrenn <group> <sub>: <message>` line and an exit code.
 */
export function commandGroup(name: string, summary: string, subs: Record<string, Subcommand>): Command {
  const usage = groupUsage(name, summary, subs);
  return {
    summary,
    usage,
    ownHelp: true,
    subcommands: subs,
    async run(argv) {
      const [subName, ...rest] = argv;
      if (!subName || subName === "--help" || subName === "-h" || subName === "help") {
        (subName ? console.log : console.error)(usage);
        return subName ? ExitCode.ok : ExitCode.usage;
      }
      const sub = subs[subName];
      if (!sub) {
        console.error(`wrenn ${name}: unknown subcommand '${subName}' (see 'wrenn ${name} --help')`);
        return ExitCode.usage;
      }
      return runSubcommand(`wrenn ${name} ${subName}`, sub, rest);
    },
  };
}

/** Runs one subcommand: `--help` prints its usage, anything thrown becomes one line and an exit code. */
export async function runSubcommand(prefix: string, sub: Subcommand, argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(sub.usage);
    return ExitCode.ok;
  }
  try {
    return await sub.run(argv);
  } catch (err) {
    reportError(prefix, err);
    return exitCodeFor(err);
  }
}

/** A {@link Command} with no subcommands that still gets `--help` and error handling. */
export function singleCommand(name: string, sub: Subcommand): Command {
  return {
    summary: sub.summary,
    usage: sub.usage,
    ownHelp: true,
    spec: sub,
    run: (argv) => runSubcommand(`wrenn ${name}`, sub, argv),
  };
}

/** Prints one line for `err` on stderr; a usage error points at the subcommand's `--help`. */
export function reportError(prefix: string, err: unknown): void {
  const hint = err instanceof UsageError ? ` (see '${prefix} --help')` : "";
  console.error(`${prefix}: ${errorMessage(err)}${hint}`);
  if (process.env.WRENN_DEBUG && !(err instanceof CliError)) console.error(err);
}
