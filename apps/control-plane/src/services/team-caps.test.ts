import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { teamCaps } from "./team-caps.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

async function insertSandboxes(teamWire: string, n: number, state: string, vcpus = 1, memoryMb = 512) {
  for (let i = 0; i < n; i++) {
    await t.db.pool.query(
      "INSERT INTO sandboxes (team_id, state, vcpus, memory_mb) VALUES ($1, $2, $3, $4)",
      [teamWire.slice(5), state, vcpus, memoryMb],
    );
  }
}

describe("per-team caps", () => {
  it("caps API keys per team and teams per user with 429 naming the limit", async () => {
    const u = await signupUser(t.app);
    for (let i = 0; i < teamCaps.apiKeys; i++) {
      expect(
        (await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: `k${i}` } })).status,
      ).toBe(201);
    }
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "one more" } });
    expect(key.status).toBe(429);
    expect(key.body).toMatchObject({
      code: "resource_exhausted",
      message: expect.stringMatching(/API keys per team/),
    });
    for (let i = 1; i < teamCaps.teamsPerUser; i++) {
      expect(
        (await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: `T${i}` } })).status,
      ).toBe(201);
    }
    const team = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "one more" } });
    expect(team.status).toBe(429);
    expect(team.body.message).toMatch(/teams per user/);
  });

  it("caps running sandboxes and their vCPUs per team; paused ones do not count", async () => {
    const u = await signupUser(t.app);
    await insertSandboxes(u.team.id, teamCaps.sandboxes, "paused");
    await insertSandboxes(u.team.id, teamCaps.sandboxes - 1, "running");
    // Below the count cap, no host here: the create gets as far as placement.
    expect((await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body: {} })).status).toBe(503);
    await insertSandboxes(u.team.id, 1, "starting");
    const full = await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body: {} });
    expect(full.status).toBe(429);
    expect(full.body.message).toMatch(/running sandboxes per team/);
    // Resuming a paused one (directly, or by connecting) would make one more running: refused too.
    const paused = await t.db.pool.query(
      "SELECT id FROM sandboxes WHERE team_id = $1 AND state = 'paused' LIMIT 1",
      [u.team.id.slice(5)],
    );
    for (const action of ["resume", "connect"]) {
      const res = await call(t.app, "POST", `/v1/sandboxes/sb-${paused.rows[0].id}/${action}`, {
        token: u.token,
      });
      expect(res.status, `${action}: ${JSON.stringify(res.body)}`).toBe(429);
      expect(res.body.message).toMatch(/running sandboxes per team/);
    }

    const v = await signupUser(t.app);
    await insertSandboxes(v.team.id, 2, "running", teamCaps.vcpus / 2);
    const cpu = await call(t.app, "POST", "/v1/sandboxes", { token: v.token, body: {} });
    expect(cpu.status).toBe(429);
    expect(cpu.body.message).toMatch(/vCPUs/);
  });
});
