import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("./main.ts", import.meta.url));

/** What a `wrenn` process printed and how it exited. */
export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Runs `wrenn <args>` from its sources as its own process (for tests: exit codes, stdout and
 * stderr exactly as a user sees them). `stdin` is written and closed; without it stdin stays an
 * open pipe (as the template tests have always run the CLI).
 */
export function spawnCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
    env: opts.env ?? process.env,
    stdio: "pipe",
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, out, err })));
}

/** What a `wrenn` process wrote, as bytes (binary output), and how it exited. */
export interface CliBytesRun {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * Runs `wrenn <args>` from its sources like {@link spawnCli}, with stdin given as bytes (`input`,
 * then closed; closed at once without it) and stdout/stderr answered as bytes once both closed.
 */
export function spawnCliBytes(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: Buffer } = {},
): Promise<CliBytesRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
      env: opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(opts.input);
  });
}

/** `s` single-quoted for a POSIX shell. */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** `wrenn <args>` (from its sources) as one shell command line, for pipes and `script`. */
export function cliCommandLine(args: string[]): string {
  return [process.execPath, "--import", "tsx", main, ...args].map(shellQuote).join(" ");
}
