import { Sandbox } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { intFlag, keyValues, parse } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError, UsageError } from "../lib/errors.ts";
import { type ExecExit, type ExecStart, ExecStream } from "../lib/exec-stream.ts";
import { listenAll } from "../lib/listeners.ts";
import { json } from "../lib/output.ts";
import { commandLine } from "../lib/shell.ts";

/** 128 + SIGPIPE: what a shell reports when the reader of our stdout went away. */
const BROKEN_PIPE = 141;

const options = {
  cwd: { type: "string" },
  user: { type: "string" },
  env: { type: "string", multiple: true },
  timeout: { type: "string" },
  stdin: { type: "boolean", short: "i", default: false },
  "no-stdin": { type: "boolean", short: "n", default: false },
} as const satisfies Options;

/**
 * The stream's `start` message: the command line for `bash -l -c`, run as `--user` (the
 * sandbox's default user when absent), in that user's home unless `--cwd` says otherwise.
 */
export function execStart(
  words: string[],
  o: { cwd?: string; user?: string; envs?: Record<string, string>; timeoutSec?: number },
): ExecStart {
  const script = commandLine(words);
  return { cmd: script, envs: o.envs, cwd: o.cwd, user: o.user, timeout_sec: o.timeoutSec };
}

/** Writes a chunk; while the stream's buffer is full, the promise holds the socket (backpressure). */
function writer(stream: NodeJS.WriteStream) {
  return (data: Buffer) =>
    stream.write(data) ? undefined : new Promise<void>((resolve) => stream.once("drain", () => resolve()));
}

/** Sends this process's stdin to the command until EOF (then close_stdin); answers a stop function. */
function forwardStdin(stream: ExecStream, stdin: NodeJS.ReadStream = process.stdin): () => void {
  let stopped = false;
  const onData = (chunk: Buffer) => {
    stdin.pause(); // one chunk in flight at a time: the socket sets the pace
    stream.sendStdin(chunk).then(
      () => stopped || stdin.resume(),
      () => stop(),
    );
  };
  const closeStdin = () => stream.closeStdin();
  const unlisten = listenAll([
    [stdin, "data", onData],
    [stdin, "end", closeStdin],
    [stdin, "error", closeStdin],
  ]);
  const stop = () => {
    stopped = true;
    unlisten();
    stdin.on("error", () => undefined); // whatever a destroyed stdin still reports is of no use
    stdin.destroy(); // a pipe nobody closes must not keep this process alive after the command exits
  };
  return stop;
}

/** The exit code for how the command ended (0-255), or the CLI's error for a kill or a timeout. */
function exitCodeOf(exit: ExecExit, timeout: number | undefined): number {
  if (exit.exitCode !== null && exit.exitCode >= 0 && exit.exitCode <= 255) return exit.exitCode;
  if (exit.status === "timed out") {
    throw new CliError(`the command timed out after ${timeout}s and was killed`, ExitCode.timeout);
  }
  throw new CliError(`the command was killed${exit.status ? `: ${exit.status}` : ""}`);
}

/** `wrenn sandbox exec <id> -- cmd args…`: streams output bytes and exits with the command's code. */
export const execCommand: Subcommand = {
  summary: "Run a command in a sandbox, streaming its output; exits with its exit code",
  usage: `Usage: wrenn sandbox exec <id> [options] -- <command> [args…]

Runs the command under '/bin/bash -l -c' in the sandbox (a paused sandbox is resumed first),
streams its stdout and stderr to yours byte for byte as they arrive, and exits with its exit
code. Piped standard input is sent to the command (echo hi | wrenn sandbox exec sb-… -- cat).
One argument is a shell script as written:    wrenn sandbox exec sb-… -- 'ls /tmp | wc -l'
Several are a program and its arguments:      wrenn sandbox exec sb-… -- ls -la "/my dir"
Ctrl-C kills the command in the sandbox.

Options:
  --cwd DIR           working directory (default: the user's home)
  --user NAME         user to run as (default: user; root for administration)
  --env K=V           an extra environment variable (repeatable)
  --timeout SECONDS   kill the command after this long (default: no limit); exit code 7
  -i, --stdin         also send a terminal's input to the command (until Ctrl-D)
  -n, --no-stdin      do not send standard input, even when it is piped
  --json              wait for the end, then print {exit_code, stdout, stderr} (output as UTF-8)

Exit codes: the command's own; 1-7 as for every wrenn command when it could not run.`,
  options,
  async run(argv) {
    const { values, positionals, rest } = parse(argv, options);
    const [id, ...inline] = positionals;
    if (!id) throw new UsageError("missing <id>");
    const words = [...inline, ...rest];
    if (words.length === 0) throw new UsageError("missing the command to run (after --)");
    if (values.stdin && values["no-stdin"]) throw new UsageError("--stdin and --no-stdin exclude each other");
    const timeout = intFlag("timeout", values.timeout, 1, 86_400);
    const start = execStart(words, {
      cwd: values.cwd,
      user: values.user,
      envs: keyValues("env", values.env),
      timeoutSec: timeout,
    });
    const conn = await connection();
    await Sandbox.connect(id, conn); // resumes a paused sandbox; the stream needs it running

    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let brokenPipe = false;
    const stream = await ExecStream.open(conn, id, start, {
      onStdout: values.json ? (b) => void out.push(b) : writer(process.stdout),
      onStderr: values.json ? (b) => void err.push(b) : writer(process.stderr),
    });
    const onSigint = () => {
      stream.signal("SIGKILL");
      const exit = () => process.exit(ExitCode.interrupted);
      void stream.close().then(exit, exit);
      setTimeout(exit, 2000).unref();
    };
    const onStdoutError = () => {
      // `wrenn sandbox exec … | head -1`: the reader left; stop the command like a shell pipe would.
      // Output waiting for stdout is moot, so no handshake after it: the socket is dropped.
      brokenPipe = true;
      stream.signal("SIGKILL");
      stream.terminate();
    };
    const unlisten = listenAll([
      [process, "SIGINT", onSigint],
      [process.stdout, "error", onStdoutError],
    ]);
    // Piped input is the command's; a terminal's only with -i (else `exec … -- cat` would wait on it).
    let stopStdin = () => {};
    if (!values["no-stdin"] && (values.stdin || !process.stdin.isTTY)) stopStdin = forwardStdin(stream);
    else stream.closeStdin();
    try {
      const exit = await stream.exited;
      if (values.json) {
        process.stdout.write(
          json({
            exit_code: exit.exitCode,
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(err).toString("utf8"),
          }),
        );
      }
      return exitCodeOf(exit, timeout);
    } catch (e) {
      if (brokenPipe) return BROKEN_PIPE;
      throw e;
    } finally {
      stopStdin();
      unlisten();
    }
  },
};
