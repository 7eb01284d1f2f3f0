import { spawn } from "node:child_process";

/** A failed command, carrying what is needed to diagnose it in logs (never sent to clients). */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(" ")} failed (exit ${exitCode}): ${stderr.trim()}`);
  }
}

/**
 * Runs a program to completion and returns its stdout; throws {@link CommandError} on a
 * non-zero exit. `input` is written to stdin (used for `ip -batch` and `iptables-restore`).
 */
export function run(argv: readonly string[], input?: string): Promise<string> {
  const [command, ...args] = argv;
  if (!command) return Promise.reject(new Error("empty command"));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (err) => reject(new CommandError(argv, null, err.message)));
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(stdout).toString());
      else reject(new CommandError(argv, code, Buffer.concat(stderr).toString()));
    });
    child.stdin.on("error", () => {
      // The exit status reports the failure; an EPIPE here would only duplicate it.
    });
    child.stdin.end(input ?? "");
  });
}
