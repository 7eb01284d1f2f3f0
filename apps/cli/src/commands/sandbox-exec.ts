import { CommandExitError, Sandbox } from "@wrenn/sdk";
import { ExitCode } from "../command.ts";
import { intFlag, keyValues, parse } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError, UsageError } from "../lib/errors.ts";
import type { Subcommand } from "../lib/group.ts";
import { commandLine } from "../lib/shell.ts";

/** Writes a chunk and waits while the stream's buffer is full, so a fast command cannot outrun a slow pipe. */
function writer(stream: NodeJS.WriteStream) {
  return (data: string) =>
    stream.write(data) ? undefined : new Promise<void>((resolve) => stream.once("drain", () => resolve()));
}

/** `wrenn sandbox exec <id> -- cmd args…`: streams output and exits with the command's code. */
export const execCommand: Subcommand = {
  summary: "Run a command in a sandbox, streaming its output; exits with its exit code",
  usage: `Usage: wrenn sandbox exec <id> [options] -- <command> [args…]

Runs the command under '/bin/bash -l -c' in the sandbox (a paused sandbox is resumed first),
streams its stdout and stderr to yours as they arrive, and exits with its exit code.
One argument is a shell script as written:    wrenn sandbox exec sb-… -- 'ls /tmp | wc -l'
Several are a program and its arguments:      wrenn sandbox exec sb-… -- ls -la "/my dir"
Ctrl-C kills the command in the sandbox.

Options:
  --cwd DIR           working directory (default: the user's home)
  --user NAME         user to run as (default: user; root for administration)
  --env K=V           an extra environment variable (repeatable)
  --timeout SECONDS   kill the command after this long (default: no limit); exit code 7
  -i, --stdin         send this terminal's standard input to the command (until EOF)

Exit codes: the command's own; 1-7 as for every wrenn command when it could not run.`,
  async run(argv) {
    const { values, positionals, rest } = parse(argv, {
      cwd: { type: "string" },
      user: { type: "string" },
      env: { type: "string", multiple: true },
      timeout: { type: "string" },
      stdin: { type: "boolean", short: "i", default: false },
    });
    const [id, ...inline] = positionals;
    if (!id) throw new UsageError("missing <id>");
    const words = [...inline, ...rest];
    if (words.length === 0) throw new UsageError("missing the command to run (after --)");
    const timeout = intFlag("timeout", values.timeout, 1, 7 * 86_400);
    const sandbox = await Sandbox.connect(id, await connection());
    const handle = await sandbox.commands.run(commandLine(words), {
      background: true,
      stdin: values.stdin,
      cwd: values.cwd,
      user: values.user,
      envs: keyValues("env", values.env),
      timeoutMs: timeout === undefined ? 0 : timeout * 1000,
      onStdout: writer(process.stdout),
      onStderr: writer(process.stderr),
    });
    const onSigint = () => {
      void handle.kill().finally(() => process.exit(ExitCode.interrupted));
    };
    process.once("SIGINT", onSigint);
    try {
      if (values.stdin) {
        for await (const chunk of process.stdin) await handle.sendStdin(chunk as Buffer);
        await handle.closeStdin();
      }
      await handle.wait();
      return ExitCode.ok;
    } catch (err) {
      if (err instanceof CommandExitError) {
        if (err.exitCode >= 0 && err.exitCode <= 255) return err.exitCode;
        throw new CliError(`the command was killed${err.error ? `: ${err.error}` : ""}`);
      }
      throw err;
    } finally {
      process.off("SIGINT", onSigint);
    }
  },
};
