import { randomUUID } from "node:crypto";
import { createSandboxRow } from "@wrenn/db";
import { call, createTestApp, insertOnlineHost, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The E2B-compatible routes without a host: auth, validation and error shapes
// (the SDK-driven end-to-end run is e2b-sdk.vm.test.ts).
let t: TestApp;
let apiKey: string;
let e2bKey: string;
let teamId: string;

beforeAll(async () => {
  t = await createTestApp();
  const user = await signupUser(t.app);
  teamId = user.team.id.slice("team-".length);
  const created = await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "e2b" } });
  apiKey = created.body.key;
  e2bKey = created.body.e2b_key;
});

afterAll(async () => {
  await t?.cleanup();
});

const unknown = "sb-00000000-0000-4000-8000-000000000000";

describe("E2B-compatible API", () => {
  it("accepts a key's e2b_ form (shown at creation) wherever its wrn_ form works", async () => {
    expect(e2bKey).toMatch(/^e2b_[0-9a-f]+$/);
    for (const path of ["/e2b/v2/sandboxes", "/v1/sandboxes"]) {
      const res = await call(t.app, "GET", path, { headers: { "X-API-KEY": e2bKey } });
      expect(res.status, path).toBe(200);
    }
    const flipped = `${e2bKey.slice(0, -1)}${e2bKey.endsWith("0") ? "1" : "0"}`;
    const wrong = await call(t.app, "GET", "/e2b/v2/sandboxes", { headers: { "X-API-KEY": flipped } });
    expect(wrong.body).toEqual({ code: 401, message: "invalid API key" });
  });

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
    expect(empty.headers.get("x-total-running")).toBe("0");
    expect((await call(t.app, "GET", "/e2b/sandboxes", { apiKey })).body).toEqual([]);
    const state = await call(t.app, "GET", "/e2b/v2/sandboxes?state=stopped", { apiKey });
    expect(state).toMatchObject({
      status: 400,
      body: { code: 400, message: "state must be running or paused" },
    });
    expect((await call(t.app, "GET", "/e2b/v2/sandboxes?limit=0", { apiKey })).body.message).toMatch(/limit/);
    for (const [query, message] of [
      ["order=newest", /order must be asc or desc/],
      ["startedAfter=yesterday", /startedAfter/],
      ["startedAfter=2030-13-45T00:00:00Z", /startedAfter/],
    ] as const) {
      const res = await call(t.app, "GET", `/e2b/v2/sandboxes?${query}`, { apiKey });
      expect(res, query).toMatchObject({ status: 400, body: { code: 400, message } });
    }
    expect((await call(t.app, "GET", "/e2b/v2/sandboxes?nextToken=zzz", { apiKey })).body.message).toMatch(
      /nextToken/,
    );
  });

  it("lists by the SDK's query options: order, startedAfter, template (name, alias, id), pagination", async () => {
    // Rows only (no host agent here): three sandboxes started a minute apart.
    const hostId = await insertOnlineHost(t, "127.0.0.1:7009");
    const tplId = randomUUID();
    const ids: string[] = [];
    for (const [i, template] of (["minimal", "python", "minimal"] as const).entries()) {
      const id = randomUUID();
      await createSandboxRow(t.db.db, {
        id,
        teamId,
        hostId,
        template,
        templateId: template === "python" ? tplId : randomUUID(),
        vcpus: 1,
        memoryMb: 512,
        diskSizeMb: 5120,
        timeoutSec: 0,
        metadata: { suite: "list" },
        envdAccessToken: null,
      });
      const at = new Date(Date.UTC(2030, 0, 1, 0, i));
      await t.db.pool.query(
        "UPDATE sandboxes SET state = 'running', created_at = $2, started_at = $2 WHERE id = $1",
        [id, at],
      );
      ids.push(`sb-${id}`);
    }
    const list = async (query: string) => {
      const res = await call(t.app, "GET", `/e2b/v2/sandboxes?metadata=suite%3Dlist&${query}`, { apiKey });
      expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
      return {
        ids: (res.body as { sandboxID: string }[]).map((s) => s.sandboxID),
        next: res.headers.get("x-next-token"),
      };
    };
    expect((await list("")).ids).toEqual([...ids].reverse());
    expect((await list("order=desc")).ids).toEqual([...ids].reverse());
    expect((await list("order=asc")).ids).toEqual(ids);
    // Oldest first, page by page.
    const first = await list("order=asc&limit=2");
    expect(first.ids).toEqual(ids.slice(0, 2));
    expect(await list(`order=asc&limit=2&nextToken=${first.next}`)).toEqual({
      ids: ids.slice(2),
      next: null,
    });
    expect((await list("startedAfter=2030-01-01T00:01:00Z")).ids).toEqual([ids[2], ids[1]]);
    expect((await list("startedAfter=2030-01-01T00:00:30.000Z&order=asc")).ids).toEqual(ids.slice(1));
    expect((await list("template=python")).ids).toEqual([ids[1]]);
    // E2B's X-Total-Running: every running sandbox the filters match, all pages together.
    const totalRunning = async (query: string) =>
      (await call(t.app, "GET", `/e2b/v2/sandboxes?metadata=suite%3Dlist&${query}`, { apiKey })).headers.get(
        "x-total-running",
      );
    expect(await totalRunning("order=asc&limit=1")).toBe("3");
    expect(await totalRunning(`order=asc&limit=1&nextToken=${first.next}`)).toBe("3");
    expect(await totalRunning("template=python")).toBe("1");
    expect(await totalRunning("state=running,paused")).toBe("3");
    expect(await totalRunning("state=paused")).toBeNull(); // not asked for running ones
    expect((await list(`template=tpl-${tplId}`)).ids).toEqual([ids[1]]);
    expect((await list("template=base&order=asc")).ids).toEqual([ids[0], ids[2]]);
    await t.db.pool.query("UPDATE sandboxes SET state = 'stopped' WHERE host_id = $1", [hostId]);
  });

  it("rejects malformed and unsupported create requests before touching anything", async () => {
    const cases: [unknown, RegExp][] = [
      ["{not json", /must be JSON/],
      [{}, /templateID/],
      [{ templateID: "base", timeout: 999_999 }, /timeout must be from 0 to 86400/],
      [{ templateID: "base", metadata: { a: 1 } }, /metadata/],
      [
        { templateID: "base", network: { denyOut: ["evil.test"] } },
        /network\.denyOut: domain names are not supported/,
      ],
      [
        { templateID: "base", network: { allowOut: ["a.test"] } },
        /network\.allowOut: allowing domains needs/,
      ],
      [{ templateID: "base", network: { allowOut: ["10.0.0.0/40"] } }, /network\.allowOut: invalid CIDR/],
      [{ templateID: "base", network: { rules: { "a.test": [{}] } } }, /network\.rules .* not supported/],
      [{ templateID: "base", volumeMounts: [{ name: "v", path: "/v" }] }, /volumeMounts/],
      [{ templateID: "base", autoResume: { enabled: true } }, /autoResume needs autoPause/],
    ];
    for (const [body, message] of cases) {
      const res = await call(t.app, "POST", "/e2b/v2/sandboxes", { apiKey, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ code: 400, message });
    }
    const listed = await call(t.app, "GET", "/v1/sandboxes", { apiKey });
    expect(listed.body.sandboxes).toEqual([]);
    // updateNetwork's body is checked before the sandbox is looked up.
    const update = await call(t.app, "PUT", `/e2b/sandboxes/${unknown}/network`, {
      apiKey,
      body: { denyOut: ["1.2.3.4:99999"] },
    });
    expect(update).toMatchObject({ status: 400, body: { code: 400, message: /^denyOut: invalid port/ } });
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
