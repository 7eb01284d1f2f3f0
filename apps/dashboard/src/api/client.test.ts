import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { session } from "../auth/session.ts";
import { ApiError, api, buildUrl, errorMessage, setApiOrigin } from "./client.ts";

const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
const token = `${b64url({ alg: "HS256" })}.${b64url({ exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;

// A real HTTP server playing the control plane's error contract ({code, message} bodies).
let server: Server;
const seen: { auth?: string; url?: string; body?: string }[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ auth: req.headers.authorization, url: req.url, body });
      const json = (status: number, o: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(o));
      };
      if (req.url?.startsWith("/v1/ok")) return json(200, { ok: true });
      if (req.url === "/v1/empty") return res.writeHead(204).end();
      if (req.url === "/v1/conflict")
        return json(409, { code: "failed_precondition", message: "sandbox is paused", state: "paused" });
      if (req.url === "/v1/expired") return json(401, { code: "unauthenticated", message: "token expired" });
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  setApiOrigin(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("api()", () => {
  it("sends the session's bearer token, JSON bodies and query strings without empty values", async () => {
    session.signIn(token);
    await expect(
      api("POST", "/v1/ok", { body: { a: 1 }, query: { x: "1", y: undefined, z: "" } }),
    ).resolves.toEqual({
      ok: true,
    });
    expect(seen.at(-1)).toEqual({ auth: `Bearer ${token}`, url: "/v1/ok?x=1", body: '{"a":1}' });
    await expect(api("DELETE", "/v1/empty")).resolves.toBeUndefined();
  });

  it("turns {code, message} into an ApiError carrying both (and extra details)", async () => {
    const err = await api("GET", "/v1/conflict").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      status: 409,
      code: "failed_precondition",
      message: "sandbox is paused",
      details: { state: "paused" },
    });
    expect(errorMessage(err)).toBe("sandbox is paused");
  });

  it("gives a readable error for a non-API body, never the HTML", async () => {
    const err = (await api("GET", "/v1/proxy-error").catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe("internal");
    expect(err.message).toBe("The server answered 502 Bad Gateway");
  });

  it("ends the session on a 401 (the app then shows the login page)", async () => {
    session.signIn(token);
    const signedOut: unknown[] = [];
    const off = session.subscribe((t) => signedOut.push(t));
    await expect(api("GET", "/v1/expired")).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    off();
    expect(signedOut).toEqual([undefined]);
    expect(session.token()).toBeUndefined();
  });

  it("reports an unreachable server as a network error", async () => {
    setApiOrigin("http://127.0.0.1:1");
    const err = await api("GET", "/v1/ok").catch((e: unknown) => e);
    setApiOrigin(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(err).toMatchObject({ status: 0, code: "network" });
  });
});

describe("buildUrl", () => {
  it("encodes values", () => {
    expect(buildUrl("/v1/x", { q: "a b&c", n: 2, b: false })).toBe("/v1/x?q=a+b%26c&n=2&b=false");
  });
});
