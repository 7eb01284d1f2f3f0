import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findJsonProblem, MAX_QUERY_VALUE_CHARS, userTextProblem } from "./user-text.ts";

let t: TestApp;
let token: string;
let apiKey: string;
beforeAll(async () => {
  t = await createTestApp();
  const u = await signupUser(t.app);
  token = u.token;
  const k = await call(t.app, "POST", "/v1/api-keys", { token, body: { name: "k" } });
  apiKey = k.body.key;
});
afterAll(async () => {
  await t?.cleanup();
});

const NUL = "\u0000";

describe("user text at the boundary", () => {
  // Every field the probe found answering 500 with a NUL byte (PostgreSQL refuses it in text).
  const cases: [string, string, string, { body?: unknown; useKey?: boolean }][] = [
    ["API key name", "POST", "/v1/api-keys", { body: { name: `a${NUL}b` } }],
    ["team name", "POST", "/v1/teams", { body: { name: `a${NUL}b` } }],
    [
      "signup name",
      "POST",
      "/v1/auth/signup",
      { body: { name: NUL, email: "n@example.com", password: "x" } },
    ],
    ["host provider", "POST", "/v1/hosts", { body: { type: "regular", provider: `p${NUL}` } }],
    [
      "host availability zone",
      "POST",
      "/v1/hosts",
      { body: { type: "regular", availability_zone: `z${NUL}` } },
    ],
    [
      "host tag",
      "POST",
      "/v1/hosts/host-00000000-0000-0000-0000-000000000000/tags",
      { body: { tags: [NUL] } },
    ],
    ["metadata key", "POST", "/v1/sandboxes", { body: { metadata: { [`k${NUL}`]: "v" } }, useKey: true }],
    ["metadata value", "POST", "/v1/sandboxes", { body: { metadata: { k: `v${NUL}` } }, useKey: true }],
    [
      "e2b metadata key",
      "POST",
      "/e2b/sandboxes",
      { body: { templateID: "base", metadata: { [NUL]: "v" } }, useKey: true },
    ],
    [
      "e2b metadata value",
      "POST",
      "/e2b/sandboxes",
      { body: { templateID: "base", metadata: { k: NUL } }, useKey: true },
    ],
    [
      "e2b metadata filter",
      "GET",
      `/e2b/v2/sandboxes?metadata=${encodeURIComponent(`k=%00`)}`,
      { useKey: true },
    ],
    ["e2b metadata filter (raw)", "GET", "/e2b/v2/sandboxes?metadata=k%3D%00", { useKey: true }],
    ["REST metadata filter", "GET", "/v1/sandboxes?metadata=k%3Dv%2500", { useKey: true }],
    ["audit actor filter", "GET", "/v1/audit-logs?actor=a%00", {}],
    ["audit action filter", "GET", "/v1/audit-logs?action=%00", {}],
    ["user search", "GET", "/v1/users/search?email=ab%00", {}],
    ["path", "GET", "/v1/teams/team-%00", {}],
  ];

  for (const [what, method, path, opts] of cases) {
    it(`refuses NUL in ${what} with 400`, async () => {
      const res = await call(t.app, method, path, {
        body: opts.body,
        ...(opts.useKey ? { apiKey } : { token }),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      const expected = path.startsWith("/e2b/") ? 400 : "invalid_argument";
      expect(res.body.code).toBe(expected);
      expect(res.body.message).toMatch(/control characters/);
    });
  }

  it("refuses other control characters, accepts tabs and newlines, bounds query values", async () => {
    const esc = await call(t.app, "POST", "/v1/teams", { token, body: { name: "a\u001bb" } });
    expect(esc.status).toBe(400);
    const del = await call(t.app, "POST", "/v1/teams", { token, body: { name: "a\u007fb" } });
    expect(del.status).toBe(400);
    const ok = await call(t.app, "POST", "/v1/teams", { token, body: { name: "Lab\tTwo" } });
    expect(ok.status).toBe(201);
    const long = await call(t.app, "GET", `/v1/audit-logs?cursor=${"a".repeat(MAX_QUERY_VALUE_CHARS + 1)}`, {
      token,
    });
    expect(long.status).toBe(400);
    expect(long.body.message).toMatch(/at most/);
  });

  it("checks JSON bodies whatever content type they declare (E2B routes parse them anyway)", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]) {
      const res = await call(t.app, "POST", "/e2b/sandboxes", {
        apiKey,
        headers: { "content-type": type },
        body: JSON.stringify({ templateID: "base", metadata: { k: `v${NUL}` } }),
      });
      expect(res.status, `${type}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.message).toMatch(/metadata\.k: .*control characters/);
    }
  });

  it("refuses NUL in a multipart build spec (decoded by its route) with 400", async () => {
    const form = new FormData();
    form.set("spec", JSON.stringify({ name: "ab", steps: [{ type: "run", command: `echo ${NUL}` }] }));
    const res = await t.app.request("/v1/builds", {
      method: "POST",
      headers: { "x-api-key": apiKey },
      body: form,
    });
    const body = (await res.json()) as { message: string };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.message).toMatch(/^spec\.steps\[0\]\.command: .*control characters/);
  });

  it("leaves the body readable by the route after checking it", async () => {
    const res = await call(t.app, "POST", "/v1/api-keys", { token, body: { name: "second" } });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe("second");
  });
});

describe("findJsonProblem", () => {
  it("names the field, checks keys and bounds depth", () => {
    expect(findJsonProblem({ a: [{ b: "x\u0000" }] })).toMatch(/^a\[0\]\.b: /);
    expect(findJsonProblem({ ["k\u0001"]: 1 })).toMatch(/key: /);
    expect(findJsonProblem({ a: "line\nline\r\n\tx", n: 1, z: null, b: true })).toBeUndefined();
    let deep: unknown = "x";
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(findJsonProblem(deep)).toMatch(/nested too deeply/);
    expect(userTextProblem("abc", 2)).toMatch(/at most 2/);
  });
});
