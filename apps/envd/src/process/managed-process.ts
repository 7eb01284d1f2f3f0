import { type ChildProcess, spawn } from "node:child_process";
import { constants as osConstants } from "node:os";
import type { IPty } from "@lydell/node-pty";
import { errors } from "@wrenn/common";
import { noteTransientBytes } from "../transient-buffers.ts";
import { EventQueue, type OutputEvent } from "./event-queue.ts";
import { loadPty } from "./pty.ts";

/** What to run and how (already resolved: absolute cwd, full environment, numeric ids). */
export interface SpawnSpec {
  cmd: string;
  args: string[];
  /** The env vars the client asked for (reported back by List). */
  requestedEnvs: Record<string, string>;
  /** The complete environment the process starts with. */
  env: Record<string, string>;
  cwd: string;
  uid: number;
  gid: number;
  tag: string | undefined;
  stdin: boolean;
  pty: { cols: number; rows: number } | undefined;
}

/** Signals a client may send. */
export type ClientSignal = "SIGTERM" | "SIGKILL";

/** How long after exit envd waits for the output pipes to drain (background children may hold them). */
const PIPE_DRAIN_GRACE_MS = 300;

function describeExit(
  code: number | null,
  signal: NodeJS.Signals | null,
): Extract<OutputEvent, { kind: "end" }> {
  if (code !== null) return { kind: "end", exitCode: code, exited: true, status: `exit status ${code}` };
  const names: Partial<Record<NodeJS.Signals, string>> = {
    SIGKILL: "killed",
    SIGTERM: "terminated",
    SIGINT: "interrupt",
    SIGHUP: "hangup",
    SIGPIPE: "broken pipe",
    SIGSEGV: "segmentation fault",
    SIGABRT: "aborted",
  };
  const name = signal ? (names[signal] ?? signal) : "unknown";
  return { kind: "end", exitCode: -1, exited: false, status: `signal: ${name}` };
}

/**
 * One process envd started: fans its output out to the readers attached at
 * the moment (Start and Connect streams), and parks output nobody reads in a
 * bounded backlog that the next reader receives.
 */
export class ManagedProcess {
  readonly pid: number;
  private readonly readers = new Set<EventQueue>();
  private readonly backlog: EventQueue;
  private endEvent: Extract<OutputEvent, { kind: "end" }> | undefined;
  private endDelivered = false;
  private stdinOpen: boolean;
  private readonly exitListeners: Array<() => void> = [];

  private constructor(
    readonly spec: SpawnSpec,
    private readonly capacityBytes: number,
    private readonly child: ChildProcess | undefined,
    private readonly terminal: IPty | undefined,
    firstReader: EventQueue,
  ) {
    this.pid = (child?.pid ?? terminal?.pid) as number;
    this.backlog = new EventQueue(capacityBytes);
    this.readers.add(firstReader);
    this.stdinOpen = spec.pty !== undefined || spec.stdin;
  }

  /**
   * Spawns the process. Resolves once the kernel started it (so a missing
   * executable is an error of the call, not an end event) with the process
   * and the queue of its first reader, attached before any output can arrive.
   */
  static async spawn(
    spec: SpawnSpec,
    capacityBytes: number,
  ): Promise<{ process: ManagedProcess; reader: EventQueue }> {
    const reader = new EventQueue(capacityBytes);
    if (spec.pty) {
      const pty = await loadPty();
      let terminal: IPty;
      try {
        terminal = pty.spawn(spec.cmd, spec.args, {
          name: "xterm-256color",
          cols: spec.pty.cols,
          rows: spec.pty.rows,
          cwd: spec.cwd,
          env: { ...spec.env, TERM: "xterm-256color" },
          uid: spec.uid,
          gid: spec.gid,
          encoding: null,
        });
      } catch (err) {
        throw errors.invalidArgument(`cannot start '${spec.cmd}': ${(err as Error).message}`);
      }
      const process = new ManagedProcess(spec, capacityBytes, undefined, terminal, reader);
      terminal.onData((data) => process.emit({ kind: "data", stream: "pty", data: toBuffer(data) }));
      terminal.onExit(({ exitCode, signal }) => {
        const signalName = signal ? (signalNameOf(signal) ?? null) : null;
        process.finish(describeExit(signalName ? null : exitCode, signalName));
      });
      return { process, reader };
    }

    const child = spawn(spec.cmd, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      uid: spec.uid,
      gid: spec.gid,
      stdio: [spec.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      // Its own process group, so a signal reaches the children a shell started too.
      detached: true,
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw errors.notFound(`executable '${spec.cmd}' not found`);
      if (err.code === "EACCES") throw errors.permissionDenied(`permission denied to run '${spec.cmd}'`);
      throw err;
    });
    const process = new ManagedProcess(spec, capacityBytes, child, undefined, reader);
    child.stdin?.on("error", () => undefined);
    child.stdout?.on("data", (data: Buffer) => process.emit({ kind: "data", stream: "stdout", data }));
    child.stderr?.on("data", (data: Buffer) => process.emit({ kind: "data", stream: "stderr", data }));
    child.once("exit", (code, signal) => {
      const end = describeExit(code, signal);
      const pipes = [child.stdout, child.stderr].filter((pipe) => pipe && !pipe.readableEnded);
      if (pipes.length === 0) {
        process.finish(end);
        return;
      }
      const grace = setTimeout(() => {
        for (const pipe of pipes) pipe?.destroy();
        process.finish(end);
      }, PIPE_DRAIN_GRACE_MS);
      child.once("close", () => {
        clearTimeout(grace);
        process.finish(end);
      });
    });
    return { process, reader };
  }

  /** True until the process exited. */
  get running(): boolean {
    return this.endEvent === undefined;
  }

  /** Whether the end event still waits for a reader (the process ended while nobody listened). */
  get awaitingReader(): boolean {
    return !this.endDelivered;
  }

  /** Attaches a new reader; it first receives whatever was produced while nobody listened. */
  attach(): EventQueue {
    const reader = new EventQueue(this.capacityBytes);
    // The backlog carries the end event too when the process ended while nobody listened.
    this.backlog.drainInto(reader);
    this.readers.add(reader);
    if (this.endEvent) {
      this.endDelivered = true;
      reader.close();
    }
    return reader;
  }

  /** Detaches a reader (its client went away); the process keeps running. */
  detach(reader: EventQueue): void {
    this.readers.delete(reader);
  }

  /** Registers a callback for the moment the process ended. */
  onExit(listener: () => void): void {
    if (this.endEvent) listener();
    else this.exitListeners.push(listener);
  }

  /** Writes to stdin or the terminal; resolves when the bytes were accepted (keeps order, bounds memory). */
  async write(data: Uint8Array, target: "stdin" | "pty"): Promise<void> {
    if (!this.running) throw errors.notFound(`process ${this.pid} is not running`);
    if (this.terminal) {
      // node-pty's typings say string, but its Unix socket writes Buffers as-is (no re-encoding of raw bytes).
      this.terminal.write(Buffer.from(data) as unknown as string);
      return;
    }
    if (target === "pty") throw errors.invalidArgument(`process ${this.pid} has no terminal`);
    const stdin = this.child?.stdin;
    if (!stdin || !this.stdinOpen) throw errors.failedPrecondition(`stdin of process ${this.pid} is closed`);
    if (!stdin.write(Buffer.from(data))) {
      await new Promise<void>((resolve) => {
        stdin.once("drain", resolve);
        stdin.once("close", resolve);
      });
    }
  }

  /** Closes stdin so the process sees EOF (terminals get Ctrl-D from the client instead). */
  closeStdin(): void {
    if (this.terminal) throw errors.invalidArgument("a terminal has no separate stdin; send Ctrl-D (0x04)");
    if (!this.running) throw errors.notFound(`process ${this.pid} is not running`);
    const stdin = this.child?.stdin;
    if (!stdin) throw errors.failedPrecondition(`process ${this.pid} was started without stdin`);
    this.stdinOpen = false;
    stdin.end();
  }

  /** Sends a signal to the process's group (falls back to the process alone). */
  signal(signal: ClientSignal): void {
    if (!this.running) throw errors.notFound(`process ${this.pid} is not running`);
    try {
      process.kill(-this.pid, signal);
    } catch {
      try {
        process.kill(this.pid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
    }
  }

  /** Resizes the terminal. */
  resize(cols: number, rows: number): void {
    if (!this.terminal) throw errors.invalidArgument(`process ${this.pid} has no terminal`);
    if (!this.running) throw errors.notFound(`process ${this.pid} is not running`);
    if (cols < 1 || rows < 1 || cols > 10_000 || rows > 10_000)
      throw errors.invalidArgument("invalid terminal size");
    this.terminal.resize(cols, rows);
  }

  private emit(event: OutputEvent): void {
    if (event.kind === "data") noteTransientBytes(event.data.length);
    if (this.readers.size === 0) {
      this.backlog.push(event);
      return;
    }
    for (const reader of this.readers) reader.push(event);
  }

  private finish(end: Extract<OutputEvent, { kind: "end" }>): void {
    if (this.endEvent) return;
    this.endEvent = end;
    if (this.readers.size > 0) {
      this.endDelivered = true;
      for (const reader of this.readers) {
        reader.push(end);
        reader.close();
      }
    } else {
      this.backlog.push(end);
    }
    for (const listener of this.exitListeners.splice(0)) listener();
  }
}

function toBuffer(data: string | Buffer | Uint8Array): Buffer {
  return typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
}

function signalNameOf(signal: number): NodeJS.Signals | undefined {
  for (const [name, value] of Object.entries(osConstants.signals)) {
    if (value === signal) return name as NodeJS.Signals;
  }
  return undefined;
}
