import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { sendRequest } from "./http-request.ts";

// A real loopback server: what fetch did for the REST client (redirects, aborts, socket
// errors, multi-byte text split across packets) must hold for the node:http request helper.
let server: Server;
let base: string;
const seen: { method?: string; url?: string; type?: string; body: string }[] = [];
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  "/echo": (_req, res) => res.end("ok"),
  "/see-other": (_req, res) => res.writeHead(303, { location: "/echo" }).end(),
  "/moved": (_req, res) => res.writeHead(302, { location: `${base}/echo` }).end(),
  "/keep-method": (_req, res) => res.writeHead(307, { location: "/echo?kept=1" }).end(),
  "/loop": (_req, res) => res.writeHead(301, { location: "/loop" }).end(),
  "/no-location": (_req, res) => res.writeHead(301).end("stay"),
  // "grüße ✓" split inside a multi-byte character, with a pause between the parts.
  "/utf8": (_req, res) => {
    const bytes = Buffer.from("grüße ✓", "utf8");
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.write(bytes.subarray(0, 3));
    setTimeout(() => res.end(bytes.subarray(3)), 20);
  },
  // Headers at once, the body never finishes.
  "/stall-body": (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"partial":');
  },
  "/cut": (req, res) => {
    res.writeHead(200, { "content-length": "100" });
    res.write("only part of it");
    setTimeout(() => req.socket.destroy(), 20);
  },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, type: req.headers["content-type"], body });
      (routes[(req.url ?? "").split("?")[0] ?? ""] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const json = { "content-type": "application/json" };

test("follows redirects as fetch does: 303 and a POST's 301/302 become a GET without body, 307 keeps both", async () => {
  seen.length = 0;
  expect(
    await sendRequest(new URL(`${base}/see-other`), { method: "POST", headers: json, body: "{}" }),
  ).toEqual({
    status: 200,
    text: "ok",
  });
  expect(seen).toEqual([
    { method: "POST", url: "/see-other", type: "application/json", body: "{}" },
    { method: "GET", url: "/echo", type: undefined, body: "" },
  ]);
  seen.length = 0;
  await sendRequest(new URL(`${base}/moved`), { method: "POST", headers: json, body: "{}" });
  expect(seen.at(-1)).toEqual({ method: "GET", url: "/echo", type: undefined, body: "" });
  seen.length = 0;
  await sendRequest(new URL(`${base}/keep-method`), { method: "POST", headers: json, body: '{"a":1}' });
  expect(seen.at(-1)).toEqual({
    method: "POST",
    url: "/echo?kept=1",
    type: "application/json",
    body: '{"a":1}',
  });
  seen.length = 0;
  await sendRequest(new URL(`${base}/moved`), { method: "DELETE", headers: {} });
  expect(seen.at(-1)).toMatchObject({ method: "DELETE", url: "/echo" });
});

test("a redirect loop ends after 20 redirects; a redirect without Location is the answer", async () => {
  seen.length = 0;
  await expect(sendRequest(new URL(`${base}/loop`), { method: "GET", headers: {} })).rejects.toThrow(
    /redirect count exceeded/,
  );
  expect(seen).toHaveLength(21);
  expect(await sendRequest(new URL(`${base}/no-location`), { method: "GET", headers: {} })).toEqual({
    status: 301,
    text: "stay",
  });
});

test("the body is UTF-8 decoded whole, also when a character is split across packets", async () => {
  expect(await sendRequest(new URL(`${base}/utf8`), { method: "GET", headers: {} })).toEqual({
    status: 200,
    text: "grüße ✓",
  });
});

test("an abort rejects with the signal's reason before the answer and while the body is read", async () => {
  const before = new AbortController();
  before.abort();
  const early = await sendRequest(new URL(`${base}/echo`), {
    method: "GET",
    headers: {},
    signal: before.signal,
  }).catch((e: unknown) => e);
  expect((early as Error).name).toBe("AbortError");

  const during = new AbortController();
  const pending = sendRequest(new URL(`${base}/stall-body`), {
    method: "GET",
    headers: {},
    signal: during.signal,
  });
  setTimeout(() => during.abort(new Error("deadline")), 50);
  await expect(pending).rejects.toThrow("deadline");
});

test("a connection cut mid-body and a refused connection reject with Node's socket error", async () => {
  const cut = await sendRequest(new URL(`${base}/cut`), { method: "GET", headers: {} }).catch(
    (e: unknown) => e,
  );
  expect(cut).toMatchObject({ code: "ECONNRESET" });
  const refused = await sendRequest(new URL("http://127.0.0.1:9/"), { method: "GET", headers: {} }).catch(
    (e: unknown) => e,
  );
  expect(refused).toMatchObject({ code: "ECONNREFUSED" });
});
