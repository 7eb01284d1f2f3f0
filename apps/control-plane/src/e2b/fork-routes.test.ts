import {
  call,
  createTestApp,
  insertOnlineHost,
  insertSandbox,
  signupUser,
  type TestApp,
} from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// E2B's fork and snapshot routes without a VM: auth, state, validation and E2B error bodies
// (the SDK-driven run on microVMs is e2b-fork.vm.test.ts).
let t: TestApp;
let apiKey: string;
let teamId: string;
let hostId: string;

beforeAll(async () => {
  t = await createTestApp();
  const user = await signupUser(t.app);
  teamId = user.team.id.slice("team-".length);
  apiKey = (await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "e2b" } })).body.key;
  hostId = await insertOnlineHost(t, "127.0.0.1:9");
});

afterAll(async () => {
  await t?.cleanup();
});

const unknown = "sb-00000000-0000-4000-8000-000000000000";
const headers = () => ({ "X-API-KEY": apiKey });

describe("E2B fork and snapshots", () => {
  it("needs a key and answers E2B error bodies", async () => {
    const anon = await call(t.app, "POST", `/e2b/sandboxes/${unknown}/fork`, { body: {} });
    expect(anon).toMatchObject({ status: 401, body: { code: 401 } });
    for (const [method, path] of [
      ["POST", `/e2b/sandboxes/${unknown}/fork`],
      ["POST", `/e2b/sandboxes/${unknown}/snapshots`],
      ["DELETE", "/e2b/templates/no-such-snapshot"],
    ] as const) {
      const res = await call(t.app, method, path, { headers: headers(), body: {} });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ code: 404 });
    }
  });

  it("forks only running sandboxes (409) and checks count and timeout (400)", async () => {
    const paused = `sb-${await insertSandbox(t, { teamId, hostId, state: "paused" })}`;
    const res = await call(t.app, "POST", `/e2b/sandboxes/${paused}/fork`, {
      headers: headers(),
      body: { count: 2 },
    });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      code: 409,
      message: "cannot fork a sandbox that is paused; only running sandboxes fork",
    });
    const running = `sb-${await insertSandbox(t, { teamId, hostId, state: "running" })}`;
    for (const body of [{ count: 0 }, { count: 9 }, { timeout: -5 }, { count: "two" }]) {
      const bad = await call(t.app, "POST", `/e2b/sandboxes/${running}/fork`, { headers: headers(), body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body).toMatchObject({ code: 400 });
    }
  });

  it("lists no snapshots for a new team and refuses a foreign page token", async () => {
    const res = await call(t.app, "GET", "/e2b/snapshots?limit=10", { headers: headers() });
    expect(res).toMatchObject({ status: 200, body: [] });
    const bySandbox = await call(t.app, "GET", `/e2b/snapshots?sandboxID=${unknown}`, { headers: headers() });
    expect(bySandbox.body).toEqual([]);
    const bad = await call(t.app, "GET", "/e2b/snapshots?nextToken=abc", { headers: headers() });
    expect(bad.status).toBe(400);
  });
});
