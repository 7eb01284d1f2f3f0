import { spawn } from "node:child_process";
import { errors } from "@wrenn/common";

/** Options for {@link run}. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin. */
  input?: Buffer | string;
  /** Called with each chunk of the child's combined output (for long steps like debootstrap). */
  onOutput?: (chunk: string) => void;
}

/** The outcome of a successful {@link run}. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

const TAIL_CHARS = 4000;

/**
 * Runs a program to completion without a shell. Rejects with an `internal` WrennError
 * whose message names the command and carries the end of its output when it fails.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      opts.onOutput?.(c);
    });
    child.stderr?.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      opts.onOutput?.(c);
    });
    child.on("error", (err) => reject(errors.internal(`cannot run ${cmd}: ${err.message}`, err)));
    child.on("close", (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = `${stdout}${stderr}`.slice(-TAIL_CHARS).trim();
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(errors.internal(`${cmd} ${args.join(" ")} failed (${how})${tail ? `:\n${tail}` : ""}`));
    });
    if (child.stdin) {
      // A child that exits without reading its input must not crash us with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** True when `cmd` is found on PATH (or is an existing executable path). */
export async function commandExists(cmd: string): Promise<boolean> {
  try {
    await run("sh", ["-c", 'command -v "$1" >/dev/null', "sh", cmd]);
    return true;
  } catch {
    return false;
  }
}
