import { createHash } from "node:crypto";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";

// The sandbox WebSocket streams end to end: a real listening control plane, a registered
// host agent running QEMU microVMs, and the `ws` client speaking the JSON protocols.

type Msg = { type: string; [k: string]: unknown };

/** A WebSocket client that records every message, to wait for the ones a test expects. */
class StreamClient {
  readonly messages: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as Msg);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        resolve({ code, reason: String(reason) });
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  static connect(url: string, headers: Record<string, string>): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const client = new StreamClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (_req, res) =>
        reject(new Error(`upgrade refused with ${res.statusCode}`)),
      );
      ws.once("error", reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  close(): void {
    this.ws.close();
  }

  /** The first message (from index `from`) matching `pred`. */
  async next(pred: (m: Msg) => boolean, timeoutMs = 60_000, from = 0): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`stream closed; messages: ${JSON.stringify(this.messages)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; messages: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Decoded text of every `kinds` message so far (from index `from`). */
  text(kinds: string[], from = 0): string {
    return this.messages
      .slice(from)
      .filter((m) => kinds.includes(m.type))
      .map((m) => Buffer.from(String(m.data), "base64").toString("utf8"))
      .join("");
  }

  /** Waits until the decoded output of `kinds` (from `from`) matches `re`. */
  async waitText(kinds: string[], re: RegExp, from = 0, timeoutMs = 60_000): Promise<string> {
    await this.next(() => re.test(this.text(kinds, from)), timeoutMs, from);
    return this.text(kinds, from);
  }
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** The status of a refused upgrade. */
function refusedStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("open", () => {
      ws.close();
      reject(new Error("upgrade was accepted"));
    });
    ws.once("error", () => {});
  });
}

let d: TestDeployment;
let sandboxId: string;
let wsBase: string;
let auth: Record<string, string>;

beforeAll(async () => {
  d = await startTestDeployment();
  auth = { "x-api-key": d.apiKey };
  const res = await fetch(`${d.url}/v1/sandboxes`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ timeout_sec: 0 }),
  });
  const body = (await res.json()) as { id: string };
  expect(res.status, JSON.stringify(body)).toBe(201);
  sandboxId = body.id;
  wsBase = `${d.url.replace(/^http/, "ws")}/v1/sandboxes/${sandboxId}`;
});

afterAll(async () => {
  // The last test stops the control plane; the agent's shutdown kills the sandbox's VM.
  await d?.close();
});

describe("exec/stream", () => {
  it("feeds stdin to the command and ends with its exit", async () => {
    const c = await StreamClient.connect(`${wsBase}/exec/stream`, auth);
    // A malformed message is answered, and the stream stays usable.
    c.send({ type: "launch" });
    const bad = await c.next((m) => m.type === "error");
    expect(bad).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^type: /) });
    c.send({ type: "stdin", data: b64("too early") });
    expect(await c.next((m) => m.type === "error" && m !== bad)).toMatchObject({
      message: "send a start message first",
    });

    c.send({ type: "start", cmd: "cat" });
    expect(await c.next((m) => m.type === "started")).toMatchObject({ pid: expect.any(Number) });
    c.send({ type: "stdin", data: b64("hello\n") });
    expect(await c.waitText(["stdout"], /hello\n/)).toBe("hello\n");
    c.send({ type: "stdin", data: b64("world\n") });
    c.send({ type: "close_stdin" });
    expect(await c.next((m) => m.type === "exit")).toMatchObject({ exit_code: 0 });
    expect(c.text(["stdout"])).toBe("hello\nworld\n");
    expect((await c.closed).code).toBe(1000);
  });

  it("streams stderr and a non-zero exit code; args run without a shell", async () => {
    const c = await StreamClient.connect(`${wsBase}/exec/stream`, auth);
    c.send({ type: "start", cmd: "echo out; echo err >&2; exit 3" });
    expect(await c.next((m) => m.type === "exit")).toMatchObject({ exit_code: 3 });
    expect(c.text(["stdout"])).toBe("out\n");
    expect(c.text(["stderr"])).toBe("err\n");

    const direct = await StreamClient.connect(`${wsBase}/exec/stream`, auth);
    direct.send({ type: "start", cmd: "/bin/echo", args: ["$HOME", "two"], envs: { X: "1" } });
    expect(await direct.next((m) => m.type === "exit")).toMatchObject({ exit_code: 0 });
    expect(direct.text(["stdout"])).toBe("$HOME two\n");
  });

  it("signals the command, and kills it when the client disconnects", async () => {
    const c = await StreamClient.connect(`${wsBase}/exec/stream`, auth);
    c.send({ type: "start", cmd: "sleep 600" });
    await c.next((m) => m.type === "started");
    c.send({ type: "signal", signal: "SIGTERM" });
    const exit = await c.next((m) => m.type === "exit");
    expect(exit.exit_code).not.toBe(0);

    const gone = await StreamClient.connect(`${wsBase}/exec/stream`, auth);
    gone.send({ type: "start", cmd: "/bin/sleep", args: ["601"] });
    const { pid } = (await gone.next((m) => m.type === "started")) as unknown as { pid: number };
    const pids = async () => {
      const res = await fetch(`${d.url}/v1/sandboxes/${sandboxId}/processes`, { headers: auth });
      return ((await res.json()) as { processes: { pid: number }[] }).processes.map((p) => p.pid);
    };
    expect(await pids()).toContain(pid);
    gone.close();
    const deadline = Date.now() + 30_000;
    while ((await pids()).includes(pid) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 300));
    expect(await pids()).not.toContain(pid);
  });
});

describe("processes/{process}/stream", () => {
  it("follows a background process's output until it exits", async () => {
    const started = await fetch(`${d.url}/v1/sandboxes/${sandboxId}/exec`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        cmd: "sleep 2; for i in 1 2 3 4; do echo tick $i; sleep 1; done; exit 4",
        background: true,
        tag: "ticker",
      }),
    });
    const { pid } = (await started.json()) as { pid: number };
    expect(pid).toBeGreaterThan(0);
    const c = await StreamClient.connect(`${wsBase}/processes/ticker/stream`, auth);
    expect(await c.next((m) => m.type === "started")).toMatchObject({ pid });
    expect(await c.next((m) => m.type === "exit")).toMatchObject({ exit_code: 4 });
    expect(c.text(["stdout"])).toMatch(/tick 4\n$/);
    expect((await c.closed).code).toBe(1000);

    // An unknown process is an error message on the stream.
    const missing = await StreamClient.connect(`${wsBase}/processes/no-such-tag/stream`, auth);
    expect(await missing.next((m) => m.type === "error")).toMatchObject({ code: "not_found" });
  });
});

describe("pty", () => {
  it("runs a terminal that survives a disconnect, reconnects by tag, resizes and is killed", async () => {
    const c = await StreamClient.connect(`${wsBase}/pty`, auth);
    c.send({ type: "start", cols: 80, rows: 24 });
    const started = await c.next((m) => m.type === "started");
    expect(started).toMatchObject({ reconnected: false, pid: expect.any(Number) });
    const tag = String(started.tag);
    expect(tag).toMatch(/^term-/);
    c.send({ type: "input", data: b64("echo hi\r") });
    // The shell echoes the line, then bash prints `hi` at the start of the next line.
    await c.waitText(["output"], /[\r\n]hi\r?\n/);
    c.send({ type: "resize", cols: "wide" });
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "invalid_argument" });
    c.close();
    await c.closed;

    const again = await StreamClient.connect(`${wsBase}/pty`, { authorization: `Bearer ${d.token}` });
    // Reconnecting from a differently sized window resizes the terminal to it.
    again.send({ type: "start", tag, cols: 90, rows: 33 });
    expect(await again.next((m) => m.type === "started")).toMatchObject({
      tag,
      pid: started.pid,
      reconnected: true,
    });
    let from = again.messages.length;
    again.send({ type: "input", data: b64("stty size\r") });
    await again.waitText(["output"], /[\r\n]33 90\r?\n/, from);
    from = again.messages.length;
    again.send({ type: "resize", cols: 100, rows: 30 });
    again.send({ type: "input", data: b64("stty size\r") });
    await again.waitText(["output"], /[\r\n]30 100\r?\n/, from);
    again.send({ type: "kill" });
    expect(await again.next((m) => m.type === "exit")).toMatchObject({ exit_code: expect.any(Number) });
    expect((await again.closed).code).toBe(1000);

    // Gone for good: the same tag now starts a fresh terminal.
    const fresh = await StreamClient.connect(`${wsBase}/pty`, auth);
    fresh.send({ type: "start", tag, cols: 80, rows: 24, cmd: "echo fresh" });
    expect(await fresh.next((m) => m.type === "started")).toMatchObject({ reconnected: false });
    await fresh.next((m) => m.type === "exit");
    expect(fresh.text(["output"])).toContain("fresh");
  });
});

describe("?ticket= (browsers)", () => {
  const ticket = async (forSandbox = sandboxId): Promise<string> => {
    const res = await fetch(`${d.url}/v1/ws-tickets`, {
      method: "POST",
      headers: { authorization: `Bearer ${d.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sandbox_id: forSandbox }),
    });
    const body = (await res.json()) as { ticket: string };
    expect(res.status, JSON.stringify(body)).toBe(201);
    return body.ticket;
  };

  it("opens a terminal once with a header-less ticket; reused, expired and other-sandbox tickets are refused", async () => {
    const once = await ticket();
    const c = await StreamClient.connect(`${wsBase}/pty?ticket=${once}`, {});
    c.send({ type: "start", cols: 80, rows: 24 });
    expect(await c.next((m) => m.type === "started")).toMatchObject({ reconnected: false });
    c.send({ type: "input", data: b64("echo hi\r") });
    await c.waitText(["output"], /[\r\n]hi\r?\n/);
    c.send({ type: "kill" });
    await c.next((m) => m.type === "exit");
    expect(await refusedStatus(`${wsBase}/pty?ticket=${once}`, {})).toBe(401);

    // Expired: its Redis entry's time runs out (as 30 s would), then it no longer opens anything.
    const stale = await ticket();
    const redis = new Redis(d.config.redisUrl);
    try {
      const key = `ws-ticket:${createHash("sha256").update(stale).digest("hex")}`;
      expect(await redis.pexpire(key, 1)).toBe(1);
      const deadline = Date.now() + 5_000;
      while ((await redis.exists(key)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      redis.disconnect();
    }
    expect(await refusedStatus(`${wsBase}/exec/stream?ticket=${stale}`, {})).toBe(401);

    const elsewhere = `${d.url.replace(/^http/, "ws")}/v1/sandboxes/sb-00000000-0000-4000-8000-000000000000/pty`;
    expect(await refusedStatus(`${elsewhere}?ticket=${await ticket()}`, {})).toBe(403);
    // Another team cannot get a ticket for this sandbox at all.
    const other = await d.newTeam("Ticketless");
    const refused = await fetch(`${d.url}/v1/ws-tickets`, {
      method: "POST",
      headers: { authorization: `Bearer ${other.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sandbox_id: sandboxId }),
    });
    expect(refused.status).toBe(404);
  });
});

describe("upgrade refusals", () => {
  it("answers bad credentials 401 and other teams' or unknown sandboxes 404 before upgrading", async () => {
    const url = `${wsBase}/exec/stream`;
    expect(await refusedStatus(url, {})).toBe(401);
    expect(await refusedStatus(url, { "x-api-key": "wrn_not-a-real-key" })).toBe(401);
    expect(await refusedStatus(url, { authorization: "Bearer not.a.jwt" })).toBe(401);
    const other = await d.newTeam("Other");
    expect(await refusedStatus(url, { "x-api-key": other.apiKey })).toBe(404);
    expect(await refusedStatus(`${wsBase}/pty`, { authorization: `Bearer ${other.token}` })).toBe(404);
    const unknown = `${d.url.replace(/^http/, "ws")}/v1/sandboxes/sb-00000000-0000-0000-0000-000000000000/pty`;
    expect(await refusedStatus(unknown, auth)).toBe(404);
    expect(await refusedStatus(`${wsBase}/processes/${"x".repeat(300)}/stream`, auth)).toBe(400);

    // Without an upgrade the routes say what they are.
    const plain = await fetch(`${d.url}/v1/sandboxes/${sandboxId}/pty`, { headers: auth });
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("marks the sandbox active when a stream ends", async () => {
    const before = await fetch(`${d.url}/v1/sandboxes/${sandboxId}`, { headers: auth });
    const lastBefore = Date.parse(((await before.json()) as { last_active_at: string }).last_active_at);
    const c = await StreamClient.connect(`${wsBase}/exec/stream`, auth);
    c.send({ type: "start", cmd: "sleep 1" });
    await c.next((m) => m.type === "exit");
    const exitAt = Date.now();
    const deadline = Date.now() + 10_000;
    let last = 0;
    while (Date.now() < deadline) {
      const res = await fetch(`${d.url}/v1/sandboxes/${sandboxId}`, { headers: auth });
      last = Date.parse(((await res.json()) as { last_active_at: string }).last_active_at);
      if (last >= exitAt - 500) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last).toBeGreaterThan(lastBefore);
    expect(last).toBeGreaterThanOrEqual(exitAt - 500);
  });
});

describe("shutdown", () => {
  it("closes open streams (1001) instead of waiting for them", async () => {
    const c = await StreamClient.connect(`${wsBase}/pty`, auth);
    c.send({ type: "start", cols: 80, rows: 24 });
    await c.next((m) => m.type === "started");
    await d.controlPlane.close();
    expect((await c.closed).code).toBe(1001);
  });
});
