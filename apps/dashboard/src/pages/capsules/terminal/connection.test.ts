import { describe, expect, it } from "vitest";
import {
  backoffMs,
  type ConnectionStatus,
  decodeOutput,
  encodeInput,
  FatalConnectionError,
  type SocketLike,
  type TagStore,
  TerminalConnection,
} from "./connection.ts";

/** A scripted stand-in for the browser WebSocket: the test plays the server's side. */
class FakeSocket implements SocketLike {
  sent: unknown[] = [];
  closed = false;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closed = true;
  }
  serverSays(m: object) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  drop(reason = "") {
    this.onclose?.({ code: 1006, reason });
  }
}

function harness(opts: { openUrl?: () => Promise<string> } = {}) {
  const sockets: FakeSocket[] = [];
  const statuses: ConnectionStatus[] = [];
  const output: string[] = [];
  const tags = new Map<string, string>();
  const timers: { fn: () => void; ms: number }[] = [];
  let ticket = 0;
  const store: TagStore = {
    get: (id) => tags.get(id),
    set: (id, t) => void tags.set(id, t),
    clear: (id) => void tags.delete(id),
  };
  const conn = new TerminalConnection({
    sandboxId: "sb-1",
    openUrl: opts.openUrl ?? (async () => `ws://x/pty?ticket=t${++ticket}`),
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    tags: store,
    size: () => ({ cols: 80, rows: 24 }),
    onOutput: (b) => output.push(new TextDecoder().decode(b)),
    onStatus: (s) => statuses.push(s),
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimer: () => {},
  });
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { conn, sockets, statuses, output, tags, timers, flush };
}

describe("TerminalConnection", () => {
  it("starts a new terminal, remembers its tag, and re-attaches to it with a fresh ticket after a drop", async () => {
    const h = harness();
    h.conn.start();
    await h.flush();
    const first = h.sockets[0];
    first?.onopen?.();
    expect(first?.sent).toEqual([{ type: "start", cols: 80, rows: 24 }]);
    first?.serverSays({ type: "started", tag: "term-abc", pid: 7, reconnected: false });
    expect(h.tags.get("sb-1")).toBe("term-abc");
    first?.serverSays({ type: "output", data: encodeInput("hi\r\n") });
    expect(h.output).toEqual(["hi\r\n"]);
    h.conn.input("ls\r");
    expect(first?.sent.at(-1)).toEqual({ type: "input", data: encodeInput("ls\r") });

    first?.drop("network");
    expect(h.statuses.at(-1)).toMatchObject({ kind: "reconnecting", inMs: backoffMs(1) });
    h.timers.shift()?.fn();
    await h.flush();
    const second = h.sockets[1];
    expect(second?.url).toBe("ws://x/pty?ticket=t2");
    second?.onopen?.();
    expect(second?.sent[0]).toEqual({ type: "start", cols: 80, rows: 24, tag: "term-abc" });
    second?.serverSays({ type: "started", tag: "term-abc", pid: 7, reconnected: true });
    expect(h.statuses.at(-1)).toEqual({ kind: "connected", tag: "term-abc", pid: 7, reconnected: true });
  });

  it("a reload (new connection object) attaches to the stored tag", async () => {
    const h = harness();
    h.tags.set("sb-1", "term-old");
    h.conn.start();
    await h.flush();
    h.sockets[0]?.onopen?.();
    expect(h.sockets[0]?.sent[0]).toMatchObject({ tag: "term-old" });
  });

  it("backs off exponentially up to 10 s while the server stays away", async () => {
    const h = harness();
    h.conn.start();
    for (let i = 0; i < 6; i++) {
      await h.flush();
      h.sockets.at(-1)?.drop();
      h.timers.shift()?.fn();
    }
    const waits = h.statuses
      .filter((s) => s.kind === "reconnecting")
      .map((s) => (s as { inMs: number }).inMs);
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 10_000]);
  });

  it("stops after the shell exits and forgets the tag; 'New session' starts a fresh shell", async () => {
    const h = harness();
    h.conn.start();
    await h.flush();
    const s = h.sockets[0];
    s?.onopen?.();
    s?.serverSays({ type: "started", tag: "term-1", pid: 3, reconnected: false });
    s?.serverSays({ type: "exit", exit_code: 0 });
    s?.drop();
    expect(h.statuses.at(-1)).toEqual({ kind: "exited", exitCode: 0 });
    expect(h.tags.has("sb-1")).toBe(false);
    expect(h.timers).toHaveLength(0);
    h.conn.reconnectNow();
    await h.flush();
    h.sockets[1]?.onopen?.();
    expect(h.sockets[1]?.sent[0]).toEqual({ type: "start", cols: 80, rows: 24 });
  });

  it("does not retry a refusal (sandbox gone / not ours) from the ticket or the stream", async () => {
    const refused = harness({
      openUrl: async () => {
        throw new FatalConnectionError("sandbox not found");
      },
    });
    refused.conn.start();
    await refused.flush();
    expect(refused.statuses.at(-1)).toEqual({ kind: "failed", message: "sandbox not found" });
    expect(refused.timers).toHaveLength(0);

    const h = harness();
    h.conn.start();
    await h.flush();
    h.sockets[0]?.serverSays({ type: "error", code: "failed_precondition", message: "sandbox is paused" });
    h.sockets[0]?.drop();
    expect(h.statuses.at(-1)).toEqual({ kind: "failed", message: "sandbox is paused" });
    expect(h.timers).toHaveLength(0);
  });

  it("retries a transient error (server restarting) and a failed ticket request", async () => {
    let calls = 0;
    const h = harness({
      openUrl: async () => {
        calls++;
        if (calls === 1) throw new Error("Cannot reach the Wrenn server");
        return "ws://x/pty?ticket=ok";
      },
    });
    h.conn.start();
    await h.flush();
    expect(h.statuses.at(-1)).toMatchObject({
      kind: "reconnecting",
      reason: "Cannot reach the Wrenn server",
    });
    h.timers.shift()?.fn();
    await h.flush();
    h.sockets[0]?.serverSays({ type: "error", code: "unavailable", message: "agent unreachable" });
    h.sockets[0]?.drop();
    expect(h.statuses.at(-1)).toMatchObject({ kind: "reconnecting" });
  });

  it("dispose closes the socket without killing the shell and never reconnects", async () => {
    const h = harness();
    h.conn.start();
    await h.flush();
    const s = h.sockets[0];
    s?.onopen?.();
    s?.serverSays({ type: "started", tag: "term-9", pid: 1, reconnected: false });
    h.conn.dispose();
    expect(s?.closed).toBe(true);
    expect(s?.sent.some((m) => (m as { type: string }).type === "kill")).toBe(false);
    expect(h.tags.get("sb-1")).toBe("term-9");
    expect(h.timers).toHaveLength(0);
  });
});

describe("data encoding", () => {
  it("round-trips UTF-8 through base64", () => {
    const text = "héllo ✓ 🐦";
    expect(new TextDecoder().decode(decodeOutput(encodeInput(text)))).toBe(text);
  });
});
