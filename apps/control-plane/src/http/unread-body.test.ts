import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { serve } from "@hono/node-server";
import { createTestApp, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Over a real listening socket: what a keep-alive client sees when its body is not read.
let t: TestApp;
let server: ReturnType<typeof serve>;
let port: number;
beforeAll(async () => {
  t = await createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.cleanup();
});

/** Sends the head and only `sent` bytes of a `length`-byte body; resolves with the response head. */
function partialPost(
  path: string,
  length: number,
  sent: Buffer,
  type = "application/json",
): Promise<{ head: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (end >= 0) resolve({ head: data.slice(0, end).toLowerCase(), socket });
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\nConnection: keep-alive\r\n\r\n`,
    );
    socket.write(sent);
  });
}

describe("responses sent before the body was read", () => {
  it("refuse an oversized body with 413 and Connection: close, then close the connection", async () => {
    const { head, socket } = await partialPost(
      "/v1/auth/signup",
      8 * 1024 * 1024,
      Buffer.alloc(64 * 1024, 0x20),
    );
    expect(head).toMatch(/^http\/1\.1 413/);
    expect(head).toContain("connection: close");
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  });

  it("tell the client to close when a route answered without reading (401 before auth)", async () => {
    const { head, socket } = await partialPost(
      "/v1/sandboxes/sb-x/files/write?path=/a",
      400 * 1024,
      Buffer.alloc(16 * 1024),
      "application/octet-stream",
    );
    expect(head).toMatch(/^http\/1\.1 401/);
    expect(head).toContain("connection: close");
    socket.destroy();
  });

  it("keep the connection alive when the body was read", async () => {
    const body = JSON.stringify({ email: "nobody@example.com", password: "x" });
    const { head, socket } = await partialPost("/v1/auth/login", body.length, Buffer.from(body));
    expect(head).toMatch(/^http\/1\.1 (401|429)/);
    expect(head).toContain("connection: keep-alive");
    socket.destroy();
  });
});
