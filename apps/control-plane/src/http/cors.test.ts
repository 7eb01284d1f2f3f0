import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.ts";
import { parseCorsOrigins } from "../cors-origins.ts";

const APP = "https://app.example.com";
const OTHER = "http://localhost:5173";

describe("parseCorsOrigins", () => {
  it("is off when empty, any for a lone '*', exact origins otherwise", () => {
    expect(parseCorsOrigins(undefined)).toEqual({ kind: "off" });
    expect(parseCorsOrigins(" , ")).toEqual({ kind: "off" });
    expect(parseCorsOrigins("*")).toEqual({ kind: "any" });
    const exact = parseCorsOrigins(`${APP}, ${OTHER}/`);
    expect(exact.kind === "exact" && [...exact.origins]).toEqual([APP, OTHER]);
  });

  it("refuses paths, other schemes, garbage and '*' mixed with origins", () => {
    for (const bad of [`${APP}/api`, "ftp://x.example", "app.example.com", "*,https://a.example"]) {
      expect(() => parseCorsOrigins(bad), bad).toThrow();
    }
    expect(() => loadConfig({ JWT_SECRET: "x".repeat(32), WRENN_CORS_ORIGINS: "nope" })).toThrow(ConfigError);
  });
});

describe("CORS with exact origins", () => {
  let t: TestApp;
  let apiKey: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { WRENN_CORS_ORIGINS: `${APP},${OTHER}` } });
    const user = await signupUser(t.app);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "cors" } });
    expect(key.status).toBe(201);
    apiKey = key.body.key;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it("answers a preflight for /v1 and /e2b before authentication, with credentials", async () => {
    for (const path of ["/v1/sandboxes", "/e2b/sandboxes"]) {
      const res = await call(t.app, "OPTIONS", path, {
        headers: {
          origin: APP,
          "access-control-request-method": "POST",
          "access-control-request-headers": "x-api-key, content-type",
        },
      });
      expect(res.status, path).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(APP);
      expect(res.headers.get("access-control-allow-credentials")).toBe("true");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      expect(res.headers.get("access-control-allow-headers")).toBe("x-api-key, content-type");
      expect(res.headers.get("vary")).toContain("Origin");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("adds the allow headers to real answers of an allowed origin, errors included", async () => {
    const ok = await call(t.app, "GET", "/v1/sandboxes", { apiKey, headers: { origin: OTHER } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(OTHER);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    expect(ok.headers.get("access-control-expose-headers")).toContain("Retry-After");
    expect(ok.headers.get("vary")).toContain("Origin");
    const denied = await call(t.app, "GET", "/v1/sandboxes", { headers: { origin: APP } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("gives another origin nothing: a 403 preflight and no allow headers", async () => {
    const evil = "https://evil.example";
    const pre = await call(t.app, "OPTIONS", "/v1/sandboxes", {
      headers: { origin: evil, "access-control-request-method": "DELETE" },
    });
    expect(pre.status).toBe(403);
    expect(pre.body.code).toBe("permission_denied");
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    const res = await call(t.app, "GET", "/v1/sandboxes", { apiKey, headers: { origin: evil } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("vary")).toContain("Origin");
  });

  it("leaves paths outside /v1 and /e2b alone", async () => {
    for (const path of ["/health", "/docs", "/"]) {
      const res = await call(t.app, "GET", path, { headers: { origin: APP } });
      expect(res.headers.get("access-control-allow-origin"), path).toBeNull();
    }
  });
});

describe("CORS with '*'", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { WRENN_CORS_ORIGINS: "*" } });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it("allows any origin but never credentials", async () => {
    const pre = await call(t.app, "OPTIONS", "/e2b/sandboxes", {
      headers: { origin: "https://anyone.example", "access-control-request-method": "GET" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    expect(pre.headers.get("access-control-allow-headers")).toContain("X-API-Key");
    const res = await call(t.app, "GET", "/v1/me", { headers: { origin: "https://anyone.example" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });
});
