/** Real HTTP and WebSocket servers on loopback stand in for services inside a guest. */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { errors } from "@wrenn/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { ConnTracker } from "./conn-tracker.ts";
import { SandboxProxy } from "./sandbox-proxy.ts";

const conns = new ConnTracker();
let proxy: SandboxProxy;
let proxyServer: Server;
let guest: Server;
let wsGuest: WebSocketServer;
let guestPort: number;
let wsPort: number;
let proxyBase: string;
/** Released by tests that need a request to stay in flight. */
let releaseSlow: (() => void) | undefined;

const port = (server: Server) => (server.address() as AddressInfo).port;

async function listen(server: Server): Promise<Server> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

/** A port on which nothing listens (bound once, then closed). */
async function closedPort(): Promise<number> {
  const server = await listen(createServer());
  const free = port(server);
  await new Promise((resolve) => server.close(resolve));
  return free;
}

beforeAll(async () => {
  guest = await listen(
    createServer((req, res) => {
      if (req.url?.startsWith("/echo-info")) {
        res.setHeader("x-guest", "yes");
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
      } else if (req.url === "/hash") {
        // Answers as soon as the first chunk arrives, then reports the whole body's digest:
        // the client waits for the answer before sending the rest, so buffering would deadlock.
        const hash = createHash("sha256");
        let bytes = 0;
        req.once("data", () =>
          res.writeHead(200, { "content-type": "text/plain" }).write("first-chunk-seen\n"),
        );
        req.on("data", (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        req.on("end", () => res.end(`${bytes} ${hash.digest("hex")}`));
      } else if (req.url === "/download") {
        const chunk = Buffer.alloc(1 << 20, 7);
        let sent = 0;
        const stream = new Readable({
          read() {
            this.push(sent++ < 32 ? chunk : null);
          },
        });
        stream.pipe(res);
      } else if (req.url === "/slow") {
        res.writeHead(200);
        res.write("started\n");
        releaseSlow = () => res.end("done");
      } else {
        res.writeHead(418).end("teapot");
      }
    }),
  );
  guestPort = port(guest);
  const wsHttp = await listen(createServer());
  wsGuest = new WebSocketServer({ server: wsHttp });
  wsGuest.on("connection", (socket, req) => {
    socket.send(`hello ${req.url}`);
    socket.on("message", (data) => socket.send(`echo:${data.toString()}`));
  });
  wsPort = port(wsHttp);

  proxy = new SandboxProxy({
    resolve: (id) => {
      if (id === "sb-paused") throw errors.failedPrecondition("sandbox is paused");
      return id === "sb-1" ? { host: "127.0.0.1", conns } : null;
    },
  });
  proxyServer = await listen(createServer((req, res) => void proxy.handleRequest(req, res)));
  proxyServer.on("upgrade", proxy.handleUpgrade);
  proxyBase = `http://127.0.0.1:${port(proxyServer)}`;
});

afterAll(async () => {
  proxy.close();
  proxyServer.closeAllConnections();
  proxyServer.close();
  guest.closeAllConnections();
  guest.close();
  for (const client of wsGuest.clients) client.terminate();
  wsGuest.close();
});

describe("HTTP through the proxy", () => {
  it("forwards method, path, query and headers, and returns status and headers", async () => {
    // node:http rather than fetch: fetch refuses to send a custom Connection header.
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      request(
        `${proxyBase}/proxy/sb-1/${guestPort}/echo-info/a%2Fb?x=1&y=2`,
        { headers: { "x-custom": "v", connection: "keep-alive, x-drop-me", "x-drop-me": "1" } },
        resolve,
      )
        .on("error", reject)
        .end(),
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-guest"]).toBe("yes");
    let text = "";
    for await (const chunk of res) text += chunk;
    const seen = JSON.parse(text) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe("/echo-info/a%2Fb?x=1&y=2");
    expect(seen.headers["x-custom"]).toBe("v");
    expect(seen.headers["x-drop-me"]).toBeUndefined();
    expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen.headers.host).toBe(`127.0.0.1:${port(proxyServer)}`);
    const teapot = await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/other`);
    expect([teapot.status, await teapot.text()]).toEqual([418, "teapot"]);
  });

  it("streams a large request body without buffering it", async () => {
    const chunks = Array.from({ length: 32 }, () => randomBytes(1 << 20));
    const expected = createHash("sha256");
    for (const chunk of chunks) expected.update(chunk);
    const total = chunks.length << 20;
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request(`${proxyBase}/proxy/sb-1/${guestPort}/hash`, { method: "POST" }, (res) => {
        let body = "";
        res.on("data", (data: Buffer) => {
          body += data.toString();
          // Only now, after the guest answered to the first chunk, send the rest.
          if (body === "first-chunk-seen\n") {
            for (const chunk of chunks.slice(1)) req.write(chunk);
            req.end();
          }
        });
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.write(chunks[0]);
    });
    expect(answer).toBe(`first-chunk-seen\n${total} ${expected.digest("hex")}`);
  });

  it("streams a large response body", async () => {
    const res = await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/download`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(32 << 20);
    expect(body.every((byte) => byte === 7)).toBe(true);
  });

  it("answers 502 with a clear body when nothing listens on the port", async () => {
    const free = await closedPort();
    const res = await fetch(`${proxyBase}/proxy/sb-1/${free}/`);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      code: "unavailable",
      message: `nothing is listening on port ${free} of sandbox sb-1`,
    });
  });

  it("rejects bad ports with 400, unknown sandboxes with 404, and maps resolver errors", async () => {
    for (const bad of ["0", "65536", "http", "1.5"]) {
      const res = await fetch(`${proxyBase}/proxy/sb-1/${bad}/`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        code: "invalid_argument",
        message: "port must be an integer between 1 and 65535",
      });
    }
    const missing = await fetch(`${proxyBase}/proxy/nope/${guestPort}/`);
    expect([missing.status, await missing.json()]).toEqual([
      404,
      { code: "not_found", message: "sandbox not found" },
    ]);
    const paused = await fetch(`${proxyBase}/proxy/sb-paused/${guestPort}/`);
    expect([paused.status, await paused.json()]).toEqual([
      409,
      { code: "failed_precondition", message: "sandbox is paused" },
    ]);
  });

  it("keeps guest connections pooled and can drop a sandbox's idle ones", async () => {
    await (await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/echo-info`)).text();
    await (await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/echo-info`)).text();
    expect(proxy.dropIdleConnections("127.0.0.2")).toBe(0);
    expect(proxy.dropIdleConnections("127.0.0.1")).toBeGreaterThanOrEqual(1);
    expect(proxy.dropIdleConnections("127.0.0.1")).toBe(0);
  });
});

describe("WebSocket through the proxy", () => {
  it("upgrades and echoes messages both ways", async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port(proxyServer)}/proxy/sb-1/${wsPort}/chat?room=1`);
    const messages: string[] = [];
    socket.on("message", (data) => messages.push(data.toString()));
    await once(socket, "open");
    socket.send("ping");
    socket.send("x".repeat(200_000));
    await expect.poll(() => messages.length).toBe(3);
    expect(messages[0]).toBe("hello /chat?room=1");
    expect(messages[1]).toBe("echo:ping");
    expect(messages[2]).toBe(`echo:${"x".repeat(200_000)}`);
    expect(conns.active).toBe(1);
    socket.close();
    await once(socket, "close");
    await expect.poll(() => conns.active).toBe(0);
  });

  it("refuses upgrades for unknown sandboxes and closed ports with JSON errors", async () => {
    const statusOf = (url: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(url);
        socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        socket.on("open", () => reject(new Error("upgrade should have been refused")));
        socket.on("error", () => {});
      });
    const base = `ws://127.0.0.1:${port(proxyServer)}/proxy`;
    expect(await statusOf(`${base}/nope/${wsPort}/`)).toBe(404);
    expect(await statusOf(`${base}/sb-1/70000/`)).toBe(400);
    expect(await statusOf(`${base}/sb-1/${await closedPort()}/`)).toBe(502);
  });
});

describe("draining before a pause", () => {
  it("refuses new connections, waits for in-flight ones, then re-enables after reset", async () => {
    const slow = await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/slow`);
    const reader = slow.body?.getReader();
    expect(new TextDecoder().decode((await reader?.read())?.value)).toBe("started\n");
    expect(conns.active).toBe(1);

    const drained = conns.drain(10_000);
    const refused = await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/echo-info`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({
      code: "unavailable",
      message: "sandbox is pausing; retry shortly",
    });

    releaseSlow?.();
    let rest = "";
    for (let part = await reader?.read(); part && !part.done; part = await reader?.read()) {
      rest += new TextDecoder().decode(part.value);
    }
    expect(rest).toBe("done");
    expect(await drained).toBe(true);

    conns.reset();
    expect((await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/echo-info`)).status).toBe(200);
  });

  it("aborts connections still open after the grace period (HTTP and WebSocket)", async () => {
    const slow = await fetch(`${proxyBase}/proxy/sb-1/${guestPort}/slow`);
    const reader = slow.body?.getReader();
    await reader?.read();
    const socket = new WebSocket(`ws://127.0.0.1:${port(proxyServer)}/proxy/sb-1/${wsPort}/`);
    await once(socket, "open");
    const wsClosed = once(socket, "close");
    expect(conns.active).toBe(2);

    expect(await conns.drain(200)).toBe(false);
    await expect(reader?.read()).rejects.toThrow();
    await wsClosed;
    await expect.poll(() => conns.active).toBe(0);
    releaseSlow?.();
    conns.reset();
  });
});
