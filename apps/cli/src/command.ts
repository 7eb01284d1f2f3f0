import type { ParseArgsConfig } from "node:util";

/** The flags of a command, as `node:util` `parseArgs` takes them. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

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

/** One subcommand of a group such as `wrenn sandbox`. */
export interface Subcommand {
  /** One line in the group's help. */
  summary: string;
  /** Full help for `wrenn <group> <sub> --help`, starting with `Usage:`. */
  usage: string;
  /**
   * The flags `run` parses besides `--help` and `--json` (the help test checks that `usage`
   * names each one, so the help cannot fall behind the parser).
   */
  options?: Options;
  /** False when it prints no data and so takes no `--json` (default: it does). */
  json?: boolean;
  /** Runs with the arguments after the subcommand's name; throws {@link CliError}s or SDK errors. */
  run(argv: string[]): Promise<number>;
}
