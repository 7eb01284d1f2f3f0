import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createLogger } from "@wrenn/common";
import { type EnvdServer, startEnvd } from "@wrenn/envd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Files, type FilesystemEvent } from "../files.ts";
import { abortableBody } from "./abortable-body.ts";
import { EnvdConnection } from "./transport.ts";

// Node's fetch loses the link from the caller's AbortSignal to a response body
// after a garbage collection (nodejs/undici#3644). These tests force collections
// between starting a stream and aborting it, which made watchDir's stop() hang.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const collect = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe("abortableBody", () => {
  let server: Server;
  let url: string;
  const closed: string[] = [];

  beforeAll(async () => {
    // Sends one chunk and then keeps the response open, like a quiet server stream.
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write("first");
      req.socket.once("close", () => closed.push(req.url ?? ""));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("a pending read rejects with the abort reason and the connection closes, after a GC", async () => {
    const abort = new AbortController();
    const res = abortableBody(await fetch(`${url}/quiet`, { signal: abort.signal }), abort.signal);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first");
    await collect();
    const pending = reader.read();
    const reason = new Error("stopped by the test");
    abort.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await expect.poll(() => closed).toContain("/quiet");
  });

  it("keeps status and headers, and passes a body that ends normally through", async () => {
    const abort = new AbortController();
    const source = new Response("whole body", { status: 201, headers: { "x-kept": "yes" } });
    const res = abortableBody(source, abort.signal);
    expect(res.status).toBe(201);
    expect(res.headers.get("x-kept")).toBe("yes");
    expect(await res.text()).toBe("whole body");
    // Aborting after the end changes nothing.
    abort.abort();
  });

  it("answers the response unchanged without a signal or a body", () => {
    const plain = new Response("x");
    expect(abortableBody(plain, undefined)).toBe(plain);
    const empty = new Response(null, { status: 204 });
    expect(abortableBody(empty, new AbortController().signal)).toBe(empty);
  });
});

describe("watchDir against an in-process envd", () => {
  let envd: EnvdServer;
  let dir: string;
  let files: Files;

  beforeAll(async () => {
    envd = await startEnvd(
      { port: 0, host: "127.0.0.1", clockSync: false, portScanIntervalMs: 0 },
      createLogger("envd", "warn"),
    );
    dir = await mkdtemp(join(tmpdir(), "sdk-watch-"));
    files = new Files(new EnvdConnection({ apiUrl: `http://127.0.0.1:${envd.port}`, sandboxId: "sb-local" }));
  });

  afterAll(async () => {
    await envd?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("stop() ends the stream (onExit runs) even when a GC ran while it was open", async () => {
    for (let round = 0; round < 3; round++) {
      const events: FilesystemEvent[] = [];
      let exited = false;
      const watch = await files.watchDir(dir, (e) => void events.push(e), {
        user: "root",
        onExit: (err) => {
          expect(err).toBeUndefined();
          exited = true;
        },
      });
      const name = `round-${round}.txt`;
      await writeFile(join(dir, name), "x");
      await expect.poll(() => events.some((e) => e.name === name && e.type === "create")).toBe(true);
      await collect();
      await watch.stop();
      // stop() waits for the stream to end; before the fix it gave up after 5 s with the stream open.
      expect(exited).toBe(true);
    }
  });
});
