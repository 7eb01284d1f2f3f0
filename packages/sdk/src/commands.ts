import { CommandHandle, firstPid, type OutputHandlers } from "./command-handle.ts";
import type { EnvdConnection } from "./envd/transport.ts";
import { type CommandResult, errorFromConnect, NotFoundError } from "./errors.ts";

/** Default limit of a foreground command (background ones have none unless given). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/** Options of {@link Commands.run}. */
export interface CommandOptions {
  /** Answer a {@link CommandHandle} as soon as the process started instead of waiting for it. */
  background?: boolean | undefined;
  /** Working directory (default: the user's home). */
  cwd?: string | undefined;
  /** User the command runs as (default: envd's default user, `user`). */
  user?: string | undefined;
  /** Extra environment variables. */
  envs?: Record<string, string> | undefined;
  /** Called with each chunk of stdout. */
  onStdout?: OutputHandlers["onStdout"];
  /** Called with each chunk of stderr. */
  onStderr?: OutputHandlers["onStderr"];
  /**
   * Kill the process after this many ms (0 = never). Default 60000 in the
   * foreground, none in the background.
   */
  timeoutMs?: number | undefined;
  /**
   * `true` keeps stdin open for {@link CommandHandle.sendStdin} (the default
   * for background commands); a string or bytes is written to stdin, which is then closed.
   */
  stdin?: boolean | string | Uint8Array | undefined;
  /** A name for the process, usable instead of its pid by other clients of envd. */
  tag?: string | undefined;
  /** Aborting disconnects from the process (it keeps running). */
  signal?: AbortSignal | undefined;
}

/** A process running in the sandbox, as listed by {@link Commands.list}. */
export interface ProcessInfo {
  pid: number;
  tag: string | undefined;
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd: string | undefined;
}

/** Options of {@link Commands.connect}. */
export interface ConnectOptions {
  onStdout?: OutputHandlers["onStdout"];
  onStderr?: OutputHandlers["onStderr"];
  /** Kill the process after this many ms from now (0 = never, the default). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

function isNotFound(err: unknown): boolean {
  return errorFromConnect(err) instanceof NotFoundError;
}

/** A controller whose abort also follows the caller's signal. */
function linkedAbort(signal: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  return controller;
}

/** Commands in a sandbox: `sandbox.commands`. Talks to envd's `process.Process` service. */
export class Commands {
  /** @internal */
  constructor(private readonly envd: EnvdConnection) {}

  /**
   * Runs a shell command line (`/bin/bash -l -c cmd`). In the foreground it
   * answers the result once the process ended and throws
   * {@link CommandExitError} on a non-zero exit; with `background: true` it
   * answers a {@link CommandHandle} as soon as the process started.
   *
   * @example
   * ```ts
   * const { stdout } = await sandbox.commands.run("echo hello", { envs: { A: "1" } });
   * const server = await sandbox.commands.run("python3 -m http.server 8000", {
   *   background: true,
   *   onStderr: (line) => console.error(line),
   * });
   * ```
   */
  run(cmd: string, options: CommandOptions & { background: true }): Promise<CommandHandle>;
  run(cmd: string, options?: CommandOptions & { background?: false | undefined }): Promise<CommandResult>;
  run(cmd: string, options?: CommandOptions): Promise<CommandResult | CommandHandle>;
  async run(cmd: string, options: CommandOptions = {}): Promise<CommandResult | CommandHandle> {
    const background = options.background === true;
    const stdinData = typeof options.stdin === "string" || options.stdin instanceof Uint8Array;
    const keepStdin = options.stdin === undefined ? background : options.stdin !== false;
    const handle = await this.start(
      { cmd: "/bin/bash", args: ["-l", "-c", cmd], envs: options.envs ?? {}, cwd: options.cwd },
      {
        user: options.user,
        tag: options.tag,
        stdin: keepStdin || stdinData,
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? (background ? 0 : DEFAULT_COMMAND_TIMEOUT_MS),
        handlers: { onStdout: options.onStdout, onStderr: options.onStderr },
      },
    );
    if (stdinData) {
      await handle.sendStdin(options.stdin as string | Uint8Array);
      await handle.closeStdin();
    }
    return background ? handle : handle.wait();
  }

  /** @internal Starts a process (commands and PTYs) and answers its handle once envd reported the pid. */
  async start(
    process: { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string | undefined },
    options: {
      user?: string | undefined;
      tag?: string | undefined;
      stdin: boolean;
      signal?: AbortSignal | undefined;
      timeoutMs: number;
      handlers: OutputHandlers;
      pty?: { cols: number; rows: number } | undefined;
    },
  ): Promise<CommandHandle> {
    const rpc = await this.envd.rpc();
    const abort = linkedAbort(options.signal);
    const stream = rpc.process.start(
      {
        process: { cmd: process.cmd, args: process.args, envs: process.envs, cwd: process.cwd },
        tag: options.tag,
        stdin: options.stdin,
        ...(options.pty ? { pty: { size: options.pty } } : {}),
      },
      { headers: this.envd.userHeaders(options.user), signal: abort.signal },
    );
    const events = stream[Symbol.asyncIterator]();
    const pid = await firstPid(events, `start ${process.cmd}`);
    return new CommandHandle(pid, events, abort, this, options.handlers, options.timeoutMs);
  }

  /**
   * Lists the processes envd runs in the sandbox (commands and PTYs).
   *
   * @example
   * ```ts
   * for (const p of await sandbox.commands.list()) console.log(p.pid, p.cmd, p.args.join(" "));
   * ```
   */
  async list(options: { signal?: AbortSignal } = {}): Promise<ProcessInfo[]> {
    try {
      const rpc = await this.envd.rpc();
      const res = await rpc.process.list({}, { signal: options.signal });
      return res.processes.map((p) => ({
        pid: p.pid,
        tag: p.tag,
        cmd: p.config?.cmd ?? "",
        args: p.config?.args ?? [],
        envs: p.config?.envs ?? {},
        cwd: p.config?.cwd,
      }));
    } catch (err) {
      throw errorFromConnect(err, "list processes");
    }
  }

  /**
   * Kills a process with SIGKILL. Answers false when no such process runs.
   *
   * @example
   * ```ts
   * const killed = await sandbox.commands.kill(1234);
   * ```
   */
  async kill(pid: number): Promise<boolean> {
    try {
      const rpc = await this.envd.rpc();
      await rpc.process.sendSignal({ process: rpc.pidSelector(pid), signal: rpc.Signal.SIGKILL });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw errorFromConnect(err, `kill process ${pid}`);
    }
  }

  /**
   * Writes to the stdin of a running process.
   *
   * @example
   * ```ts
   * await sandbox.commands.sendStdin(handle.pid, "yes\n");
   * ```
   */
  async sendStdin(pid: number, data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    try {
      const rpc = await this.envd.rpc();
      await rpc.process.sendInput({
        process: rpc.pidSelector(pid),
        input: { input: { case: "stdin", value: bytes } },
      });
    } catch (err) {
      throw errorFromConnect(err, `write to the stdin of process ${pid}`);
    }
  }

  /**
   * Closes the stdin of a running process (it reads end-of-file).
   *
   * @example
   * ```ts
   * await sandbox.commands.closeStdin(handle.pid);
   * ```
   */
  async closeStdin(pid: number): Promise<void> {
    try {
      const rpc = await this.envd.rpc();
      await rpc.process.closeStdin({ process: rpc.pidSelector(pid) });
    } catch (err) {
      throw errorFromConnect(err, `close the stdin of process ${pid}`);
    }
  }

  /**
   * Attaches to a running process (e.g. one started in the background by an
   * earlier client): its further output streams into the callbacks and
   * `wait()` answers its result. Throws {@link NotFoundError} when no such process runs.
   *
   * @example
   * ```ts
   * const handle = await sandbox.commands.connect(pid, { onStdout: (d) => process.stdout.write(d) });
   * await handle.wait();
   * ```
   */
  async connect(pid: number, options: ConnectOptions = {}): Promise<CommandHandle> {
    const rpc = await this.envd.rpc();
    const abort = linkedAbort(options.signal);
    const stream = rpc.process.connect({ process: rpc.pidSelector(pid) }, { signal: abort.signal });
    const events = stream[Symbol.asyncIterator]();
    try {
      await firstPid(events, `connect to process ${pid}`);
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new NotFoundError(`process ${pid} is not running`, { cause: err });
      throw err;
    }
    return new CommandHandle(
      pid,
      events,
      abort,
      this,
      { onStdout: options.onStdout, onStderr: options.onStderr },
      options.timeoutMs ?? 0,
    );
  }
}
