import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { errors } from "@wrenn/common";

/** An asynchronous event QEMU sent (e.g. `STOP`, `RESUME`, `SHUTDOWN`, `MIGRATION`). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** A QMP command that QEMU answered with `{"error": …}`. */
export class QmpError extends Error {
  override readonly name = "QmpError";
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}

/** The subset of `query-migrate` we read. */
export interface MigrationInfo {
  status?: string;
  "error-desc"?: string;
  ram?: { transferred?: number; total?: number };
}

/** The QMP commands the driver uses, with their argument and result types. */
export interface QmpCommands {
  qmp_capabilities: { args: Record<string, never>; result: Record<string, never> };
  stop: { args: Record<string, never>; result: Record<string, never> };
  cont: { args: Record<string, never>; result: Record<string, never> };
  quit: { args: Record<string, never>; result: Record<string, never> };
  "query-status": { args: Record<string, never>; result: { status: string; running: boolean } };
  "query-version": {
    args: Record<string, never>;
    result: { qemu: { major: number; minor: number; micro: number }; package: string };
  };
  "migrate-set-capabilities": {
    args: { capabilities: { capability: string; state: boolean }[] };
    result: Record<string, never>;
  };
  migrate: { args: { uri: string }; result: Record<string, never> };
  "migrate-set-parameters": {
    args: { "max-bandwidth"?: number; "downtime-limit"?: number };
    result: Record<string, never>;
  };
  "migrate-incoming": { args: { uri: string }; result: Record<string, never> };
  "query-migrate": { args: Record<string, never>; result: MigrationInfo };
  block_resize: {
    args: { device?: string; "node-name"?: string; size: number };
    result: Record<string, never>;
  };
  pmemsave: {
    args: { val: number; size: number; filename: string };
    result: Record<string, never>;
  };
  "query-block": {
    args: Record<string, never>;
    result: { device: string; inserted?: { "node-name"?: string } }[];
  };
}

/** Names of the commands in {@link QmpCommands}. */
export type QmpCommandName = keyof QmpCommands;

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A QMP client over QEMU's unix control socket: waits for the greeting,
 * negotiates capabilities, correlates each response with its command by `id`
 * (QMP answers in order, but ids make a late answer after a timeout harmless),
 * and re-emits asynchronous events as `"event"`.
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private readonly pending = new Map<string, Pending>();
  private buffer = "";
  private nextId = 1;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
  }

  /**
   * Connects to `socketPath`, retrying until QEMU has created the socket or
   * `timeoutMs` has passed, and completes capabilities negotiation.
   */
  static async connect(socketPath: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        const socket = await openSocket(socketPath);
        const client = new QmpClient(socket);
        await client.handshake(Math.max(1, deadline - Date.now()));
        return client;
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    // The socket path is the host's business: it stays in the cause, which is logged, never sent.
    throw errors.internal(
      "the VM's control socket did not answer",
      new Error(`QMP connect to ${socketPath} timed out`, { cause: lastError }),
    );
  }

  private handshake(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        reject(new Error("QMP greeting timed out"));
      }, timeoutMs);
      const onGreeting = (chunk: string) => {
        this.buffer += chunk;
        const nl = this.buffer.indexOf("\n");
        if (nl < 0) return;
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.socket.off("data", onGreeting);
        clearTimeout(timer);
        if (!line.includes('"QMP"')) {
          this.socket.destroy();
          reject(new Error(`unexpected QMP greeting: ${line.slice(0, 200)}`));
          return;
        }
        this.socket.on("data", (data: string) => this.onData(data));
        this.socket.on("close", () => this.onClose());
        this.socket.on("error", () => this.onClose());
        this.execute("qmp_capabilities", {}, timeoutMs).then(() => resolve(), reject);
      };
      this.socket.setEncoding("utf8");
      this.socket.on("data", onGreeting);
      this.socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Runs one QMP command; rejects with {@link QmpError} on a QMP error or after `timeoutMs`. */
  execute<C extends QmpCommandName>(
    command: C,
    args: QmpCommands[C]["args"] = {} as QmpCommands[C]["args"],
    timeoutMs = 10_000,
  ): Promise<QmpCommands[C]["result"]> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: connection closed`));
    const id = String(this.nextId++);
    const message: Record<string, unknown> = { execute: command, id };
    if (Object.keys(args).length > 0) message.arguments = args;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`QMP ${command} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Resolves with the first event named `name` (optionally matching `predicate`), or rejects after `timeoutMs`. */
  waitForEvent(name: string, timeoutMs: number, predicate?: (e: QmpEvent) => boolean): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("event", onEvent);
        reject(new Error(`QMP event ${name} not seen within ${timeoutMs} ms`));
      }, timeoutMs);
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name || (predicate && !predicate(e))) return;
        clearTimeout(timer);
        this.off("event", onEvent);
        resolve(e);
      };
      this.on("event", onEvent);
    });
  }

  /** True once the socket has closed (QEMU exited or {@link close} was called). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection; pending commands are rejected. */
  close(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof msg.event === "string") {
      this.emit("event", msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === "string" ? msg.id : undefined;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!pending || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if ("error" in msg) {
      const e = msg.error as { class?: string; desc?: string };
      pending.reject(new QmpError(pending.command, e.class ?? "GenericError", e.desc ?? "unknown error"));
    } else {
      pending.resolve(msg.return ?? {});
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`QMP ${p.command}: connection closed`));
      this.pending.delete(id);
    }
    this.emit("close");
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
