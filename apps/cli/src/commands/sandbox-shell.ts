import { CommandExitError, Sandbox } from "@wrenn/sdk";
import type { Options, Subcommand } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { parse, positionalArgs } from "../lib/args.ts";
import { connection } from "../lib/client.ts";
import { CliError, errorMessage, exitCodeFor } from "../lib/errors.ts";
import { listenAll } from "../lib/listeners.ts";
import { enterRawMode } from "../lib/terminal.ts";

/** Ctrl-D: what a piped (non-terminal) stdin's end becomes, so the remote shell sees end-of-input. */
const EOT = Uint8Array.of(4);

/**
 * Explains a terminal stream that broke: usually the sandbox was paused or killed from elsewhere
 * (say so), otherwise the connection dropped. Starts on a fresh line: the screen is mid-prompt.
 */
async function lostTerminal(id: string, conn: Awaited<ReturnType<typeof connection>>, err: unknown) {
  process.stdout.write("\r\n");
  // A pause or kill closes the stream a moment before the control plane records the new state.
  let state: string | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    state = await Sandbox.getInfo(id, conn).then(
      (info) => info.state,
      () => undefined,
    );
    if (state !== "running") break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (state && state !== "running") {
    return new CliError(`the terminal ended: sandbox ${id} is now ${state}`, ExitCode.conflict);
  }
  return new CliError(`lost the connection to the terminal: ${errorMessage(err)}`, exitCodeFor(err));
}

const options = { user: { type: "string" }, cwd: { type: "string" } } as const satisfies Options;

/** `wrenn sandbox shell <id>`: an interactive terminal in the sandbox. */
export const shellCommand: Subcommand = {
  summary: "Open an interactive terminal in a sandbox",
  usage: `Usage: wrenn sandbox shell <id> [--user NAME] [--cwd DIR]

Opens a login shell (bash) on a terminal in the sandbox, sized like yours and resized with it
(a paused sandbox is resumed first). Everything you type goes to the sandbox, Ctrl-C included;
'exit' or Ctrl-D ends the shell and this command, with the shell's exit code.

Options:
  --user NAME   user to log in as (default: user; root for administration)
  --cwd DIR     starting directory (default: the user's home)`,
  options,
  json: false,
  async run(argv) {
    const { values, positionals } = parse(argv, options, { json: false });
    const [id] = positionalArgs(positionals, ["id"]) as [string];
    const { stdin, stdout } = process;
    const size = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
    const conn = await connection();
    const sandbox = await Sandbox.connect(id, conn);
    const term = await sandbox.pty.create({
      ...size(),
      user: values.user,
      cwd: values.cwd,
      envs: { TERM: process.env.TERM || "xterm-256color" },
      onData: (data) =>
        stdout.write(data)
          ? undefined
          : new Promise<void>((resolve) => stdout.once("drain", () => resolve())),
    });

    // Keystrokes go out one at a time in order; the first failure ends the session.
    let queue: Promise<void> = Promise.resolve();
    let sendFailure: unknown;
    const send = (bytes: Uint8Array) => {
      queue = queue
        .then(() => (sendFailure ? undefined : sandbox.pty.sendInput(term.pid, bytes)))
        .catch((err: unknown) => {
          sendFailure ??= err;
          term.disconnect();
        });
    };
    const onInput = (chunk: Buffer) => send(chunk);
    const onEnd = () => send(EOT);
    const onResize = () => {
      void sandbox.pty.resize(term.pid, size()).catch(() => undefined);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      restore();
      void sandbox.pty.kill(term.pid).finally(() => process.exit(signal === "SIGHUP" ? 129 : 143));
    };

    const restore = enterRawMode(stdin);
    const unlisten = listenAll([
      [stdin, "data", onInput],
      [stdin, "end", onEnd],
      [process, "SIGWINCH", onResize],
      [process, "SIGTERM", onSignal],
      [process, "SIGHUP", onSignal],
    ]);
    stdin.resume();
    try {
      await term.wait();
      return ExitCode.ok;
    } catch (err) {
      if (sendFailure) throw sendFailure;
      if (err instanceof CommandExitError && err.exitCode >= 0 && err.exitCode <= 255) return err.exitCode;
      if (err instanceof CommandExitError) throw new CliError("the shell was killed");
      throw await lostTerminal(id, conn, err);
    } finally {
      restore();
      unlisten();
      stdin.pause();
    }
  },
};
