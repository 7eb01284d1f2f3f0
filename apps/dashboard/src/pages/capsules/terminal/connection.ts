/**
 * The terminal's connection to a sandbox PTY over the `pty` WebSocket, independent of xterm.js so
 * its reconnect rules are unit-tested: the terminal's tag is kept (sessionStorage in the app) so a
 * dropped network or a page reload re-attaches to the same shell; unexpected closes retry with
 * backoff; an exited shell or a refusal (sandbox gone, no permission) stops retrying.
 */

/** The part of a WebSocket the connection uses (a fake in tests). */
export interface SocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onclose: ((e: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
}

/** Where the tag of a sandbox's terminal is remembered across reloads. */
export interface TagStore {
  get(sandboxId: string): string | undefined;
  set(sandboxId: string, tag: string): void;
  clear(sandboxId: string): void;
}

/** What the terminal shows about its connection. */
export type ConnectionStatus =
  | { kind: "connecting"; attempt: number }
  | { kind: "connected"; tag: string; pid: number; reconnected: boolean }
  | { kind: "reconnecting"; attempt: number; inMs: number; reason: string }
  | { kind: "exited"; exitCode: number | null }
  | { kind: "failed"; message: string };

/** An error that must not be retried (the server said no for a reason a retry cannot change). */
export class FatalConnectionError extends Error {}

/** Everything the connection needs from the outside world. */
export interface ConnectionDeps {
  sandboxId: string;
  /** A fresh `ws(s)://…/pty?ticket=…` URL (each ticket is single use). Throw FatalConnectionError to stop. */
  openUrl(): Promise<string>;
  createSocket(url: string): SocketLike;
  tags: TagStore;
  size(): { cols: number; rows: number };
  onOutput(bytes: Uint8Array): void;
  onStatus(status: ConnectionStatus): void;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Error codes after which a retry cannot help (see @wrenn/common's closed set). */
const FATAL_CODES = new Set([
  "invalid_argument",
  "unauthenticated",
  "permission_denied",
  "not_found",
  "failed_precondition",
]);

/** Delay before reconnect attempt `attempt` (1-based): 0.5 s doubling to a 10 s ceiling. */
export function backoffMs(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, attempt - 1));
}

/** UTF-8 text → base64 (the protocol's `data` fields). */
export function encodeInput(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** base64 → bytes. */
export function decodeOutput(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

type ServerMessage =
  | { type: "started"; tag: string; pid: number; reconnected: boolean }
  | { type: "output"; data: string }
  | { type: "exit"; exit_code: number | null }
  | { type: "error"; code: string; message: string };

/** One terminal's connection; `start()` it, `dispose()` it when the view goes away. */
export class TerminalConnection {
  private socket: SocketLike | undefined;
  private attempt = 0;
  private timer: unknown;
  private disposed = false;
  private finished = false;
  private started = false;
  /** Bumped by every connect/detach, so a connect still fetching its ticket knows it is stale. */
  private generation = 0;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(private readonly deps: ConnectionDeps) {
    this.setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = deps.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  /** Opens the first connection (attaching to the remembered tag, if any). */
  start(): void {
    void this.connect();
  }

  /** Retries at once (the user clicked Reconnect, or the browser came back online). */
  reconnectNow(): void {
    if (this.disposed) return;
    if (this.finished) {
      // A new shell after the old one exited or a failure: start over.
      this.finished = false;
      this.attempt = 0;
    }
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    if (this.started) return;
    this.detach();
    void this.connect();
  }

  /** Sends keystrokes. Dropped while disconnected (the shell would not see them anyway). */
  input(text: string): void {
    this.send({ type: "input", data: encodeInput(text) });
  }

  /** Tells the shell the window size changed. */
  resize(cols: number, rows: number): void {
    this.send({ type: "resize", cols, rows });
  }

  /** Ends the shell (and forgets its tag). */
  kill(): void {
    this.send({ type: "kill" });
  }

  /** Closes the socket without ending the shell: it stays attachable by its tag for a while. */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.detach();
  }

  /** Simulates a dropped network (tests, and the "drop connection" debug action). */
  dropForTest(): void {
    this.socket?.close(4000, "dropped");
  }

  private send(m: object): void {
    if (this.socket && this.started) this.socket.send(JSON.stringify(m));
  }

  private detach(): void {
    this.generation++;
    const s = this.socket;
    this.socket = undefined;
    this.started = false;
    if (s) {
      s.onopen = s.onmessage = s.onerror = null;
      s.onclose = null;
      s.close(1000, "client closed");
    }
  }

  private async connect(): Promise<void> {
    if (this.disposed || this.finished) return;
    const generation = ++this.generation;
    this.attempt++;
    this.deps.onStatus({ kind: "connecting", attempt: this.attempt });
    let url: string;
    try {
      url = await this.deps.openUrl();
    } catch (err) {
      if (err instanceof FatalConnectionError) return this.fail(err.message);
      return this.retry(err instanceof Error ? err.message : "cannot reach the server");
    }
    if (this.disposed || generation !== this.generation) return;
    const socket = this.deps.createSocket(url);
    this.socket = socket;
    let refused: string | undefined;
    socket.onopen = () => {
      const { cols, rows } = this.deps.size();
      const tag = this.deps.tags.get(this.deps.sandboxId);
      socket.send(JSON.stringify({ type: "start", cols, rows, ...(tag ? { tag } : {}) }));
    };
    socket.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      let m: ServerMessage;
      try {
        m = JSON.parse(e.data) as ServerMessage;
      } catch {
        return;
      }
      if (m.type === "started") {
        this.started = true;
        this.attempt = 0;
        this.deps.tags.set(this.deps.sandboxId, m.tag);
        this.deps.onStatus({ kind: "connected", tag: m.tag, pid: m.pid, reconnected: m.reconnected });
      } else if (m.type === "output") {
        this.deps.onOutput(decodeOutput(m.data));
      } else if (m.type === "exit") {
        this.finished = true;
        this.deps.tags.clear(this.deps.sandboxId);
        this.deps.onStatus({ kind: "exited", exitCode: m.exit_code });
      } else if (m.type === "error") {
        if (FATAL_CODES.has(m.code)) {
          refused = m.message;
        }
      }
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.started = false;
      if (this.disposed || this.finished) return;
      if (refused !== undefined) return this.fail(refused);
      this.retry(e.reason || "connection lost");
    };
    socket.onerror = () => {
      // A close event always follows; the retry happens there.
    };
  }

  private fail(message: string): void {
    this.finished = true;
    this.deps.onStatus({ kind: "failed", message });
  }

  private retry(reason: string): void {
    if (this.disposed || this.finished) return;
    const inMs = backoffMs(this.attempt);
    this.deps.onStatus({ kind: "reconnecting", attempt: this.attempt, inMs, reason });
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      void this.connect();
    }, inMs);
  }
}

/** The app's tag store: sessionStorage, so a reload of this tab re-attaches but a new tab does not. */
export function sessionTagStore(storage: Pick<Storage, "getItem" | "setItem" | "removeItem">): TagStore {
  const key = (id: string) => `wrenn.pty.${id}`;
  return {
    get: (id) => storage.getItem(key(id)) ?? undefined,
    set: (id, tag) => storage.setItem(key(id), tag),
    clear: (id) => storage.removeItem(key(id)),
  };
}
