import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createTestApp, signupUser, type TestApp } from "../testing.ts";

// The E2B-compatible routes without a host: auth, validation and error shapes
// (the SDK-driven end-to-end run is e2b-sdk.vm.test.ts).
let t: TestApp;
let apiKey: string;

beforeAll(async () => {
  t = await createTestApp();
  const user = await signupUser(t.app);
  apiKey = (await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "e2b" } })).body.key;
});

afterAll(async () => {
  await t?.cleanup();
});

const unknown = "sb-00000000-0000-4000-8000-000000000000";

describe("E2B-compatible API", () => {
  it("answers E2B error bodies with numeric codes", async () => {
    const anon = await call(t.app, "GET", "/e2b/v2/sandboxes");
    expect(anon).toMatchObject({ status: 401, body: { code: 401, message: expect.any(String) } });
    const bad = await call(t.app, "GET", "/e2b/v2/sandboxes", { headers: { "X-API-KEY": "wrn_nope" } });
    expect(bad.body).toEqual({ code: 401, message: "invalid API key" });
    for (const [method, path] of [
      ["GET", `/e2b/sandboxes/${unknown}`],
      ["DELETE", `/e2b/sandboxes/${unknown}`],
      ["POST", `/e2b/sandboxes/${unknown}/pause`],
      ["POST", `/e2b/v2/sandboxes/${unknown}/connect`],
      ["GET", "/e2b/sandboxes/not-an-id"],
      ["GET", "/e2b/no/such/route"],
    ] as const) {
      const res = await call(t.app, method, path, { headers: { "X-API-KEY": apiKey } });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ code: 404 });
    }
  });

  it("lists with E2B's filters and validates them", async () => {
    const empty = await call(t.app, "GET", "/e2b/v2/sandboxes?state=running,paused&limit=5", { apiKey });
    expect(empty).toMatchObject({ status: 200, body: [] });
    expect(empty.headers.get("x-next-token")).toBeNull();
    expect((await call(t.app, "GET", "/e2b/sandboxes", { apiKey })).body).toEqual([]);
    const state = await call(t.app, "GET", "/e2b/v2/sandboxes?state=stopped", { apiKey });
    expect(state).toMatchObject({
      status: 400,
      body: { code: 400, message: "state must be running or paused" },
    });
    expect((await call(t.app, "GET", "/e2b/v2/sandboxes?limit=0", { apiKey })).body.message).toMatch(/limit/);
    expect((await call(t.app, "GET", "/e2b/v2/sandboxes?nextToken=zzz", { apiKey })).body.message).toMatch(
      /nextToken/,
    );
  });

  it("rejects malformed and unsupported create requests before touching anything", async () => {
    const cases: [unknown, RegExp][] = [
      ["{not json", /must be JSON/],
      [{}, /templateID/],
      [{ templateID: "base", timeout: 999_999 }, /timeout must be from 0 to 86400/],
      [{ templateID: "base", metadata: { a: 1 } }, /metadata/],
      [{ templateID: "base", allow_internet_access: false }, /not supported/],
      [{ templateID: "base", volumeMounts: [{ name: "v", path: "/v" }] }, /volumeMounts/],
    ];
    for (const [body, message] of cases) {
      const res = await call(t.app, "POST", "/e2b/v2/sandboxes", { apiKey, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ code: 400, message });
    }
    const listed = await call(t.app, "GET", "/v1/sandboxes", { apiKey });
    expect(listed.body.sandboxes).toEqual([]);
  });

  it("validates timeout bodies", async () => {
    const res = await call(t.app, "POST", `/e2b/sandboxes/${unknown}/timeout`, { apiKey, body: {} });
    expect(res).toMatchObject({ status: 400, body: { code: 400, message: /timeout/ } });
    for (const body of [{ duration: 3601 }, { duration: -1 }, { duration: "60" }]) {
      const refresh = await call(t.app, "POST", `/e2b/sandboxes/${unknown}/refreshes`, { apiKey, body });
      expect(refresh, JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { code: 400, message: /duration/ },
      });
    }
    // A valid body reaches the lookup: an unknown sandbox is E2B's 404.
    const missing = await call(t.app, "POST", `/e2b/sandboxes/${unknown}/refreshes`, {
      apiKey,
      body: { duration: 60 },
    });
    expect(missing).toMatchObject({ status: 404, body: { code: 404 } });
  });
});
