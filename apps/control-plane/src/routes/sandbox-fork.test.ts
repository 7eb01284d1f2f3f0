import {
  call,
  createTestApp,
  insertOnlineHost,
  insertSandbox,
  signupUser,
  type TestApp,
} from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The fork route's answers that need no VM: validation, team scoping, state, caps, and the
// bookkeeping when the host's agent cannot be reached. Forks on real microVMs:
// apps/host-agent/src/sandbox/fork.vm.test.ts and the e2b SDK VM test.
let t: TestApp;
let hostId: string;
beforeAll(async () => {
  t = await createTestApp();
  // Nothing listens there: the agent call fails as a transport error.
  hostId = await insertOnlineHost(t, "127.0.0.1:9");
});
afterAll(async () => {
  await t?.cleanup();
});

async function sandboxOf(teamWire: string, state: "running" | "paused" | "stopped"): Promise<string> {
  return `sb-${await insertSandbox(t, { teamId: teamWire.slice(5), hostId, state })}`;
}

describe("POST /v1/sandboxes/{id}/fork", () => {
  it("answers 409 for a sandbox that is not running and 404 for unknown or other teams' ones", async () => {
    const u = await signupUser(t.app);
    const other = await signupUser(t.app);
    const paused = await sandboxOf(u.team.id, "paused");
    const res = await call(t.app, "POST", `/v1/sandboxes/${paused}/fork`, { token: u.token, body: {} });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      code: "failed_precondition",
      message: "cannot fork a sandbox that is paused; only running sandboxes fork",
    });
    const running = await sandboxOf(u.team.id, "running");
    const foreign = await call(t.app, "POST", `/v1/sandboxes/${running}/fork`, {
      token: other.token,
      body: {},
    });
    expect(foreign.status).toBe(404);
    const unknown = await call(t.app, "POST", "/v1/sandboxes/sb-00000000-0000-4000-8000-000000000000/fork", {
      token: u.token,
      body: {},
    });
    expect(unknown.status).toBe(404);
  });

  it("validates count (1..8), timeout and metadata", async () => {
    const u = await signupUser(t.app);
    const running = await sandboxOf(u.team.id, "running");
    for (const body of [{ count: 0 }, { count: 9 }, { count: 1.5 }, { timeout_sec: -1 }, { extra: 1 }]) {
      const res = await call(t.app, "POST", `/v1/sandboxes/${running}/fork`, { token: u.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("counts every fork against the team's running-sandbox cap (429 naming it)", async () => {
    const u = await signupUser(t.app);
    const running = await sandboxOf(u.team.id, "running");
    for (let i = 0; i < 14; i++) await sandboxOf(u.team.id, "running");
    const res = await call(t.app, "POST", `/v1/sandboxes/${running}/fork`, {
      token: u.token,
      body: { count: 6 },
    });
    expect(res.status).toBe(429);
    expect(res.body.message).toMatch(/running sandboxes per team/);
  });

  it("answers 503 when the host's agent is unreachable, marks the forks failed and audits it", async () => {
    const u = await signupUser(t.app);
    const running = await sandboxOf(u.team.id, "running");
    const res = await call(t.app, "POST", `/v1/sandboxes/${running}/fork`, {
      token: u.token,
      body: { count: 2 },
    });
    expect(res.status).toBe(503);
    const failed = await call(t.app, "GET", "/v1/sandboxes?state=error", { token: u.token });
    expect(failed.body.sandboxes).toHaveLength(2);
    const audit = await t.db.pool.query(
      "SELECT status FROM audit_logs WHERE resource_id = $1 AND action = 'fork'",
      [running],
    );
    expect(audit.rows).toEqual([{ status: "error" }]);
  });
});
