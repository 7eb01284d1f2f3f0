import type { CommandHandle } from "./command-handle.ts";
import type { Commands } from "./commands.ts";
import type { EnvdConnection } from "./envd/transport.ts";
import { errorFromConnect } from "./errors.ts";

/** Terminal size in character cells. */
export interface PtySize {
  cols: number;
  rows: number;
}

/** Options of {@link Pty.create}. */
export interface PtyCreateOptions extends PtySize {
  /** Called with each chunk of terminal output (raw bytes, escape sequences included). */
  onData: (data: Uint8Array) => void | Promise<void>;
  /** Working directory (default: the user's home). */
  cwd?: string | undefined;
  /** Extra environment variables (`TERM=xterm-256color` is set unless given). */
  envs?: Record<string, string> | undefined;
  /** User the shell runs as (default: envd's default user). */
  user?: string | undefined;
  /** Kill the shell after this many ms (0 = never, the default). */
  timeoutMs?: number | undefined;
  /** Aborting disconnects from the terminal (the shell keeps running). */
  signal?: AbortSignal | undefined;
}

/** Interactive terminals in the sandbox: `sandbox.pty`. */
export class Pty {
  /** @internal */
  constructor(
    private readonly envd: EnvdConnection,
    private readonly commands: Commands,
  ) {}

  /**
   * Starts an interactive login shell (`/bin/bash -i -l`) on a new
   * pseudo-terminal. The handle's `pid` addresses it in the other methods;
   * `wait()` resolves when the shell exits.
   *
   * @example
   * ```ts
   * const term = await sandbox.pty.create({ cols: 80, rows: 24, onData: (d) => process.stdout.write(d) });
   * await sandbox.pty.sendInput(term.pid, new TextEncoder().encode("ls -la\n"));
   * ```
   */
  async create(options: PtyCreateOptions): Promise<CommandHandle> {
    return this.commands.start(
      {
        cmd: "/bin/bash",
        args: ["-i", "-l"],
        envs: { TERM: "xterm-256color", LANG: "C.UTF-8", ...options.envs },
        cwd: options.cwd,
      },
      {
        user: options.user,
        stdin: true,
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? 0,
        handlers: { onPty: options.onData },
        pty: { cols: options.cols, rows: options.rows },
      },
    );
  }

  /**
   * Types into the terminal (keystrokes, as bytes or a string).
   *
   * @example
   * ```ts
   * await sandbox.pty.sendInput(term.pid, "echo hi\r");
   * ```
   */
  async sendInput(pid: number, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    try {
      const rpc = await this.envd.rpc();
      await rpc.process.sendInput({
        process: rpc.pidSelector(pid),
        input: { input: { case: "pty", value: bytes } },
      });
    } catch (err) {
      throw errorFromConnect(err, `write to terminal ${pid}`);
    }
  }

  /**
   * Changes the terminal size (the shell gets SIGWINCH).
   *
   * @example
   * ```ts
   * await sandbox.pty.resize(term.pid, { cols: 120, rows: 40 });
   * ```
   */
  async resize(pid: number, size: PtySize): Promise<void> {
    try {
      const rpc = await this.envd.rpc();
      await rpc.process.update({ process: rpc.pidSelector(pid), pty: { size } });
    } catch (err) {
      throw errorFromConnect(err, `resize terminal ${pid}`);
    }
  }

  /**
   * Kills the terminal's shell (SIGKILL). Answers false when it was already gone.
   *
   * @example
   * ```ts
   * await sandbox.pty.kill(term.pid);
   * ```
   */
  async kill(pid: number): Promise<boolean> {
    return this.commands.kill(pid);
  }
}
