import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveConfig } from "../config.ts";
import { NotFoundError, SandboxError, TimeoutError } from "../errors.ts";
import { ApiClient } from "./http.ts";

// A real HTTP server on loopback standing in for the network conditions the
// client must survive: a slow answer, an error body, and what it receives.
let server: Server;
let url: string;
const seen: { method?: string; url?: string; key?: string; body?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, key: req.headers["x-api-key"] as string, body });
      if (req.url?.startsWith("/slow")) {
        setTimeout(() => res.end("{}"), 5000).unref();
        return;
      }
      if (req.url?.startsWith("/missing")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "not_found", message: "sandbox not found" }));
        return;
      }
      if (req.url?.startsWith("/empty")) {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test("sends the API key, the JSON body and the query (undefined values left out)", async () => {
  const api = new ApiClient(resolveConfig({ apiKey: "wrn_k", apiUrl: url }, {}));
  expect(await api.request("POST", "/ok", { body: { a: 1 }, query: { x: "1", y: undefined } })).toEqual({
    ok: true,
  });
  expect(seen.at(-1)).toEqual({ method: "POST", url: "/ok?x=1", key: "wrn_k", body: '{"a":1}' });
  expect(await api.request("DELETE", "/empty")).toBeUndefined();
});

test("an error body becomes its typed error", async () => {
  const api = new ApiClient(resolveConfig({ apiKey: "k", apiUrl: url }, {}));
  const err = await api.request("GET", "/missing").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NotFoundError);
  expect(err).toMatchObject({ status: 404, message: "sandbox not found" });
});

test("the request timeout is a TimeoutError; the caller's abort passes through as itself", async () => {
  const api = new ApiClient(resolveConfig({ apiKey: "k", apiUrl: url, requestTimeoutMs: 200 }, {}));
  const started = Date.now();
  await expect(api.request("GET", "/slow")).rejects.toBeInstanceOf(TimeoutError);
  expect(Date.now() - started).toBeLessThan(4000);
  const controller = new AbortController();
  const pending = api.request("GET", "/slow", { signal: controller.signal, timeoutMs: 0 });
  controller.abort();
  const aborted = await pending.catch((e: unknown) => e);
  expect(aborted).not.toBeInstanceOf(TimeoutError);
  expect((aborted as Error).name).toBe("AbortError");
});

test("an unreachable control plane is an unavailable SandboxError naming the request", async () => {
  // Port 9 on loopback: nothing listens there, the connection is refused.
  const api = new ApiClient(resolveConfig({ apiKey: "k", apiUrl: "http://127.0.0.1:9" }, {}));
  const err = await api.request("GET", "/v1/sandboxes").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SandboxError);
  expect(err).toMatchObject({ code: "unavailable" });
  expect((err as Error).message).toContain("GET /v1/sandboxes");
});
