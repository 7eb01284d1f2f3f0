/** A CLI sub-command: one module under `commands/` exports one of these as `command`. */
export interface Command {
  /** One line shown in `wrenn --help`. */
  summary: string;
  /** Full help text for `wrenn <name> --help`. */
  usage: string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** Exit codes scripts can rely on. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  unauthenticated: 4,
} as const;
