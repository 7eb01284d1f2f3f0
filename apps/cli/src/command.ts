import type { Subcommand } from "./lib/group.ts";

/** A CLI sub-command: one module under `commands/` exports one of these as `command`. */
export interface Command {
  /** One line shown in `wrenn --help`. */
  summary: string;
  /** Full help text for `wrenn <name> --help`. */
  usage: string;
  /**
   * True when the command answers `--help` itself (per subcommand); `main.ts` then passes the flag
   * through instead of printing {@link usage}.
   */
  ownHelp?: boolean;
  /** A group's subcommands (`wrenn sandbox create` …), for help and the command-tree test. */
  subcommands?: Record<string, Subcommand>;
  /** A command without subcommands: its own flags and help (see {@link Subcommand}). */
  spec?: Subcommand;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/**
 * Exit codes scripts can rely on (documented in apps/cli/README.md). `wrenn sandbox exec` and
 * `wrenn sandbox shell` instead exit with the remote command's own code once it has run.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  unauthenticated: 4,
  conflict: 5,
  unavailable: 6,
  timeout: 7,
  interrupted: 130,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
