import type { ConnectResponse, StartResponse } from "@wrenn/proto";
import {
  CommandExitError,
  type CommandResult,
  errorFromConnect,
  SandboxError,
  TimeoutError,
} from "./errors.ts";

/** Output callbacks of a running process. */
export interface OutputHandlers {
  /** Called with each chunk the process writes to stdout (UTF-8 decoded). */
  onStdout?: ((data: string) => void | Promise<void>) | undefined;
  /** Called with each chunk the process writes to stderr (UTF-8 decoded). */
  onStderr?: ((data: string) => void | Promise<void>) | undefined;
  /** Called with each chunk of terminal output (PTY processes only). */
  onPty?: ((data: Uint8Array) => void | Promise<void>) | undefined;
}

/** What the handle needs from the commands module (kept small so PTYs share it). */
export interface ProcessControl {
  kill(pid: number): Promise<boolean>;
  sendStdin(pid: number, data: string | Uint8Array): Promise<void>;
  closeStdin(pid: number): Promise<void>;
}

type EventStream = AsyncIterator<StartResponse | ConnectResponse>;

/**
 * Reads the first event of a Start/Connect stream, which carries the pid.
 * Anything else first means envd did not start the process.
 */
export async function firstPid(events: EventStream, what: string): Promise<number> {
  for (;;) {
    let next: IteratorResult<StartResponse | ConnectResponse>;
    try {
      next = await events.next();
    } catch (err) {
      throw errorFromConnect(err, what);
    }
    if (next.done) throw new SandboxError(`${what}: envd closed the stream before the process started`);
    const event = next.value.event?.event;
    if (event?.case === "start") return event.value.pid;
    if (event?.case === "keepalive") continue;
    throw new SandboxError(`${what}: envd answered ${event?.case ?? "nothing"} before the start event`);
  }
}

/**
 * A process running in the sandbox (a background command, a reconnected
 * process or a PTY). Output streams into the callbacks while the handle is
 * connected; {@link CommandHandle.wait} resolves when the process ends.
 */
export class CommandHandle {
  private stdoutText = "";
  private stderrText = "";
  private result: CommandResult | undefined;
  private readonly finished: Promise<CommandResult>;
  private readonly stdoutDecoder = new TextDecoder();
  private readonly stderrDecoder = new TextDecoder();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timedOutAfter: number | undefined;

  /** @internal Built by `commands.run`, `commands.connect` and `pty.create`. */
  constructor(
    /** The process id inside the sandbox. */
    readonly pid: number,
    events: EventStream,
    private readonly abort: AbortController,
    private readonly control: ProcessControl,
    private readonly handlers: OutputHandlers,
    timeoutMs: number,
  ) {
    this.finished = this.pump(events);
    // Never an unhandled rejection when the caller only uses callbacks.
    this.finished.catch(() => {});
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timedOutAfter = timeoutMs;
        void this.control.kill(this.pid).catch(() => false);
      }, timeoutMs);
    }
  }

  /** Everything the process wrote to stdout so far. */
  get stdout(): string {
    return this.stdoutText;
  }

  /** Everything the process wrote to stderr so far. */
  get stderr(): string {
    return this.stderrText;
  }

  /** The exit code once the process ended, else `undefined`. */
  get exitCode(): number | undefined {
    return this.result?.exitCode;
  }

  private async pump(events: EventStream): Promise<CommandResult> {
    try {
      for (;;) {
        let next: IteratorResult<StartResponse | ConnectResponse>;
        try {
          next = await events.next();
        } catch (err) {
          if (this.abort.signal.aborted) {
            throw new SandboxError(`disconnected from process ${this.pid}`, { cause: err });
          }
          throw errorFromConnect(err, `process ${this.pid}`);
        }
        if (next.done) break;
        const event = next.value.event?.event;
        if (event?.case === "data") {
          const out = event.value.output;
          if (out.case === "stdout") {
            const text = this.stdoutDecoder.decode(out.value, { stream: true });
            this.stdoutText += text;
            if (text) await this.handlers.onStdout?.(text);
          } else if (out.case === "stderr") {
            const text = this.stderrDecoder.decode(out.value, { stream: true });
            this.stderrText += text;
            if (text) await this.handlers.onStderr?.(text);
          } else if (out.case === "pty") {
            await this.handlers.onPty?.(out.value);
          }
        } else if (event?.case === "end") {
          this.result = {
            exitCode: event.value.exitCode,
            stdout: this.stdoutText,
            stderr: this.stderrText,
            error: event.value.error,
          };
          return this.result;
        }
      }
      throw new SandboxError(`the stream of process ${this.pid} ended before the process did`);
    } finally {
      if (this.timer) clearTimeout(this.timer);
    }
  }

  /**
   * Waits for the process to end. Resolves with the result when it exits 0;
   * throws {@link CommandExitError} (carrying the result) otherwise, and
   * {@link TimeoutError} when the command's `timeoutMs` killed it.
   *
   * @example
   * ```ts
   * const handle = await sandbox.commands.run("sleep 1; echo done", { background: true });
   * const result = await handle.wait();
   * console.log(result.stdout); // "done\n"
   * ```
   */
  async wait(): Promise<CommandResult> {
    const result = await this.finished;
    if (this.timedOutAfter !== undefined) {
      throw new TimeoutError(`process ${this.pid} was killed after its timeout of ${this.timedOutAfter} ms`);
    }
    if (result.exitCode !== 0) throw new CommandExitError(result);
    return result;
  }

  /**
   * Kills the process (SIGKILL). Answers false when it was already gone.
   *
   * @example
   * ```ts
   * const server = await sandbox.commands.run("python3 -m http.server", { background: true });
   * await server.kill();
   * ```
   */
  async kill(): Promise<boolean> {
    return this.control.kill(this.pid);
  }

  /**
   * Writes to the process's stdin (started with stdin open: background
   * commands are, foreground ones need `stdin`).
   *
   * @example
   * ```ts
   * const cat = await sandbox.commands.run("cat", { background: true, onStdout: console.log });
   * await cat.sendStdin("hello\n");
   * ```
   */
  async sendStdin(data: string | Uint8Array): Promise<void> {
    return this.control.sendStdin(this.pid, data);
  }

  /**
   * Closes the process's stdin (it reads end-of-file).
   *
   * @example
   * ```ts
   * const wc = await sandbox.commands.run("wc -l", { background: true });
   * await wc.sendStdin("a\nb\n");
   * await wc.closeStdin();
   * console.log((await wc.wait()).stdout); // "2\n"
   * ```
   */
  async closeStdin(): Promise<void> {
    return this.control.closeStdin(this.pid);
  }

  /**
   * Stops receiving output; the process keeps running (reattach with
   * `sandbox.commands.connect(pid)`). A pending `wait()` rejects.
   *
   * @example
   * ```ts
   * const job = await sandbox.commands.run("sleep 600", { background: true });
   * job.disconnect();
   * const again = await sandbox.commands.connect(job.pid);
   * ```
   */
  disconnect(): void {
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
  }
}
