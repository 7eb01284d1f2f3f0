import { Writable } from "node:stream";
import { redactedPaths } from "@wrenn/common";
import { call, createTestApp, type TestApp } from "@wrenn/testing/app";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

describe("request logging", () => {
  it("tags every line with the request id and never writes secrets", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().trim().split("\n"));
        done();
      },
    });
    const log = pino({ level: "debug", redact: { paths: redactedPaths, censor: "[redacted]" } }, sink);
    const app = createApp({ config: t.config, db: t.db.db, redis: t.redis.redis, log });
    const password = "hunter2-is-not-a-password";
    const signup = await call(app, "POST", "/v1/auth/signup", {
      body: { name: "Log", email: "log@example.com", password },
      headers: { "x-request-id": "req-abc_123" },
    });
    expect(signup.status).toBe(201);
    expect(signup.headers.get("x-request-id")).toBe("req-abc_123");
    const me = await call(app, "GET", "/v1/me", { token: signup.body.token });
    const generated = me.headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    // A hostile request id is replaced, not echoed.
    const hostile = await call(app, "GET", "/health", { headers: { "x-request-id": "a\u0001b<script>" } });
    expect(hostile.headers.get("x-request-id")).not.toContain("<");

    const entries = lines.map((l) => JSON.parse(l));
    const signupLine = entries.find((e) => e.path === "/v1/auth/signup");
    expect(signupLine).toMatchObject({ reqId: "req-abc_123", method: "POST", status: 201 });
    expect(entries.find((e) => e.path === "/v1/me")).toMatchObject({ reqId: generated, status: 200 });
    const all = lines.join("\n");
    expect(all).not.toContain(password);
    expect(all).not.toContain(signup.body.token);
  });

  it("redacts secret fields if a caller ever logs them", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ redact: { paths: redactedPaths, censor: "[redacted]" } }, sink);
    log.info({
      password: "p",
      token: "t",
      body: { apiKey: "k" },
      req: { headers: { authorization: "Bearer x" } },
    });
    expect(lines[0]).not.toMatch(/"(p|t|k|Bearer x)"/);
    expect(lines[0]).toContain("[redacted]");
  });
});
