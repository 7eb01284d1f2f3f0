import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { spliceUpgrade, upgradeRequestHeaders, writeRawJson } from "./upgrade.ts";

// Real sockets on loopback: a raw client, a relay that runs one hop with spliceUpgrade, and an
// upstream that accepts (echoing what it reads), refuses, or is not there at all.

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** An upstream that accepts upgrades and echoes every byte back, or refuses them with 403. */
function upstream(accept: boolean): Server {
  const server = createServer((_req, res) => {
    res.writeHead(403, { "content-type": "text/plain", "x-reason": "no" });
    res.end("refused");
  });
  if (accept) {
    server.on("upgrade", (_req, socket, head) => {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
      if (head.length) socket.write(head);
      socket.pipe(socket);
    });
  }
  return server;
}

/** A relay to `upstreamPort` whose unreachable answer is a 503 JSON body. */
function relay(upstreamPort: number): Server {
  const server = createServer();
  server.on("upgrade", (req, socket, head) => {
    const next = request({
      host: "127.0.0.1",
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers: upgradeRequestHeaders({ host: req.headers.host }, req.headers),
      agent: false,
    });
    spliceUpgrade(socket, head, next, () =>
      writeRawJson(socket, 503, { code: "unavailable", message: "gone" }),
    );
  });
  return server;
}

/** Sends an upgrade request (and `extra` right behind it) and collects everything until `until` matches or the socket ends. */
async function rawUpgrade(port: number, extra: string, until: RegExp): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(`GET /x HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n${extra}`);
  let received = "";
  await new Promise<void>((resolve) => {
    socket.on("data", (chunk) => {
      received += chunk.toString();
      if (until.test(received)) resolve();
    });
    socket.on("close", () => resolve());
  });
  socket.destroy();
  return received;
}

describe("spliceUpgrade", () => {
  it("relays the 101 and splices both ways, bytes sent right behind the request included", async () => {
    const port = await listen(relay(await listen(upstream(true))));
    const received = await rawUpgrade(port, "ping", /ping$/);
    expect(received).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(received).toMatch(/\r\nUpgrade: echo\r\n/);
    expect(received.endsWith("\r\n\r\nping")).toBe(true);
  });

  it("relays a refused upgrade's answer with connection: close", async () => {
    const port = await listen(relay(await listen(upstream(false))));
    const received = await rawUpgrade(port, "", /refused$/);
    expect(received).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(received).toMatch(/\r\nx-reason: no\r\n/i);
    expect(received).toMatch(/\r\nconnection: close\r\n/);
    expect(received.endsWith("refused")).toBe(true);
  });

  it("answers through onUnreachable when the next hop is not there", async () => {
    const closed = await listen(createServer());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const port = await listen(relay(closed));
    const received = await rawUpgrade(port, "", /\}$/);
    expect(received).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(received).toMatch(/\r\nconnection: close\r\n/);
    expect(JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4))).toEqual({
      code: "unavailable",
      message: "gone",
    });
  });
});
