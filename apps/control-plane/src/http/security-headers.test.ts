import { call, createTestApp, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "./security-headers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { TRUST_PROXY: "true" } });
});
afterAll(async () => {
  await t?.cleanup();
});

describe("security headers", () => {
  it("are on API answers, errors, /docs and the dashboard; HSTS only over TLS", async () => {
    for (const path of ["/health", "/v1/me", "/docs", "/openapi.json", "/", "/v1/nope"]) {
      const res = await call(t.app, "GET", path);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("content-security-policy"), path).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get("strict-transport-security"), path).toBeNull();
    }
    const tls = await call(t.app, "GET", "/health", { headers: { "x-forwarded-proto": "https" } });
    expect(tls.headers.get("strict-transport-security")).toMatch(/^max-age=\d+/);
    const cors = await call(t.app, "GET", "/health", { headers: { origin: "https://evil.example" } });
    expect(cors.headers.get("access-control-allow-origin")).toBeNull();
  });
});
