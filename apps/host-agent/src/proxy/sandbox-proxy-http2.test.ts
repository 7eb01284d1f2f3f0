/**
 * The proxy behind an HTTP/2 (h2c) listener, as when it shares the agent's Connect server:
 * requests arrive through node:http2's compatibility API. Real servers on loopback.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { connect, createServer as createH2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnTracker } from "./conn-tracker.ts";
import { SandboxProxy } from "./sandbox-proxy.ts";

let guest: Server;
let front: Http2Server;
let proxy: SandboxProxy;
const conns = new ConnTracker();

beforeAll(async () => {
  guest = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on("end", () => {
      res.writeHead(201, { "x-guest": "h1", connection: "keep-alive" });
      res.end(`${req.method} ${req.url} ${bytes} ${req.headers.host}`);
    });
  }).listen(0, "127.0.0.1");
  await once(guest, "listening");
  proxy = new SandboxProxy({ resolve: (id) => (id === "sb" ? { host: "127.0.0.1", conns } : null) });
  front = createH2Server((req, res) => void proxy.handleRequest(req, res)).listen(0, "127.0.0.1");
  await once(front, "listening");
});

afterAll(() => {
  proxy.close();
  front.close();
  guest.closeAllConnections();
  guest.close();
});

async function h2(path: string, method = "GET", body?: Buffer) {
  const session = connect(`http://127.0.0.1:${(front.address() as AddressInfo).port}`);
  try {
    const stream = session.request({ ":path": path, ":method": method });
    stream.end(body);
    const [headers] = (await once(stream, "response")) as [Record<string, string | number>];
    let text = "";
    for await (const chunk of stream) text += chunk;
    return { status: headers[":status"], headers, text };
  } finally {
    session.close();
  }
}

describe("SandboxProxy over HTTP/2", () => {
  it("forwards requests and streams bodies, dropping HTTP/1-only headers", async () => {
    const port = (guest.address() as AddressInfo).port;
    const get = await h2(`/proxy/sb/${port}/x?y=1`);
    expect(get.status).toBe(201);
    expect(get.headers["x-guest"]).toBe("h1");
    expect(get.headers.connection).toBeUndefined();
    expect(get.text).toMatch(/^GET \/x\?y=1 0 127\.0\.0\.1:\d+$/);
    const post = await h2(`/proxy/sb/${port}/upload`, "POST", Buffer.alloc(3 << 20, 1));
    expect(post.text).toMatch(/^POST \/upload 3145728 /);
    expect(conns.active).toBe(0);
  });

  it("answers errors as JSON over HTTP/2 too", async () => {
    const missing = await h2("/proxy/nope/80/");
    expect([missing.status, JSON.parse(missing.text)]).toEqual([
      404,
      { code: "not_found", message: "sandbox not found" },
    ]);
    const badPort = await h2("/proxy/sb/0/");
    expect(badPort.status).toBe(400);
  });
});
