import { freePort } from "@wrenn/db";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

const uuidOf = (wire: string) => wire.slice(wire.indexOf("-") + 1);

async function admin() {
  const u = await signupUser(t.app, "Admin");
  await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [uuidOf(u.user.id)]);
  return u;
}

const specs = { arch: "x86_64", cpu_count: 4, memory_mb: 8192, disk_gb: 100 };

async function registeredHost(adminToken: string, address = "127.0.0.1:5007") {
  const created = await call(t.app, "POST", "/v1/hosts", { token: adminToken, body: { type: "regular" } });
  expect(created.status).toBe(201);
  const reg = await call(t.app, "POST", "/v1/hosts/register", {
    body: { token: created.body.registration_token, address, ...specs },
  });
  expect(reg.status).toBe(201);
  return reg.body as { host: { id: string }; token: string; refresh_token: string };
}

describe("host creation and registration", () => {
  it("lets only platform admins add regular hosts, with an audited one-time token", async () => {
    const user = await signupUser(t.app);
    const refused = await call(t.app, "POST", "/v1/hosts", { token: user.token, body: { type: "regular" } });
    expect(refused.status).toBe(403);

    const a = await admin();
    const created = await call(t.app, "POST", "/v1/hosts", {
      token: a.token,
      body: { type: "regular", provider: "hetzner", availability_zone: "fsn1" },
    });
    expect(created.status).toBe(201);
    expect(created.body.host).toMatchObject({
      type: "regular",
      status: "pending",
      team_id: null,
      provider: "hetzner",
    });
    expect(created.body.registration_token).toMatch(/^wrh_/);
    const hostUuid = uuidOf(created.body.host.id);
    const tokens = await t.db.pool.query("SELECT expires_at, used_at FROM host_tokens WHERE host_id = $1", [
      hostUuid,
    ]);
    expect(tokens.rows).toHaveLength(1);
    const ttlMs = new Date(tokens.rows[0].expires_at).getTime() - Date.now();
    expect(ttlMs).toBeGreaterThan(3500_000);
    expect(ttlMs).toBeLessThanOrEqual(3600_000);
    const audit = await t.db.pool.query(
      "SELECT action FROM audit_logs WHERE resource_type = 'host' AND resource_id = $1",
      [created.body.host.id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(["create"]);
  });

  it("registers with specs once; the token cannot be replayed, even concurrently", async () => {
    const a = await admin();
    const created = await call(t.app, "POST", "/v1/hosts", { token: a.token, body: { type: "regular" } });
    const body = { token: created.body.registration_token, address: "10.1.2.3:5007", ...specs };
    const results = await Promise.all(
      [1, 2, 3].map(() => call(t.app, "POST", "/v1/hosts/register", { body })),
    );
    const ok = results.filter((r) => r.status === 201);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(2);
    expect(ok[0]?.body.host).toMatchObject({
      status: "online",
      address: "10.1.2.3:5007",
      arch: "x86_64",
      cpu_count: 4,
    });
    expect(ok[0]?.body.refresh_token).toMatch(/^wrr_/);
    const again = await call(t.app, "POST", "/v1/hosts/register", { body });
    expect(again.status).toBe(401);
    const used = await t.db.pool.query("SELECT used_at FROM host_tokens WHERE host_id = $1", [
      uuidOf(created.body.host.id),
    ]);
    expect(used.rows[0].used_at).not.toBeNull();
  });

  it("rejects malformed registrations with the field named", async () => {
    const bad = await call(t.app, "POST", "/v1/hosts/register", {
      body: { token: "wrh_x", address: "no-port", ...specs },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/address/);
    const port = await call(t.app, "POST", "/v1/hosts/register", {
      body: { token: "wrh_x", address: "10.0.0.1:70000", ...specs },
    });
    expect(port.status).toBe(400);
  });

  it("regenerates the token of a pending host only; the old token stops working", async () => {
    const a = await admin();
    const created = await call(t.app, "POST", "/v1/hosts", { token: a.token, body: { type: "regular" } });
    const regen = await call(t.app, "POST", `/v1/hosts/${created.body.host.id}/token`, { token: a.token });
    expect(regen.status).toBe(201);
    const old = await call(t.app, "POST", "/v1/hosts/register", {
      body: { token: created.body.registration_token, address: "10.0.0.9:5007", ...specs },
    });
    expect(old.status).toBe(401);
    const fresh = await call(t.app, "POST", "/v1/hosts/register", {
      body: { token: regen.body.registration_token, address: "10.0.0.9:5007", ...specs },
    });
    expect(fresh.status).toBe(201);
    const late = await call(t.app, "POST", `/v1/hosts/${created.body.host.id}/token`, { token: a.token });
    expect(late.status).toBe(409);
  });
});

describe("host credentials", () => {
  it("keeps host and user tokens apart in both directions", async () => {
    const a = await admin();
    const creds = await registeredHost(a.token);
    const asUser = await call(t.app, "GET", "/v1/me", { token: creds.token });
    expect(asUser.status).toBe(401);
    const asHost = await call(t.app, "POST", `/v1/hosts/${creds.host.id}/heartbeat`, {
      headers: { "x-host-token": a.token },
    });
    expect(asHost.status).toBe(401);
  });

  it("heartbeats with X-Host-Token cross-checked against the path, bringing unreachable hosts back", async () => {
    const a = await admin();
    const one = await registeredHost(a.token);
    const two = await registeredHost(a.token);
    const path = `/v1/hosts/${one.host.id}/heartbeat`;
    expect((await call(t.app, "POST", path)).status).toBe(401);
    expect((await call(t.app, "POST", path, { headers: { "x-host-token": two.token } })).status).toBe(403);
    await t.db.pool.query(
      "UPDATE hosts SET status = 'unreachable', last_heartbeat_at = now() - interval '1 hour' WHERE id = $1",
      [uuidOf(one.host.id)],
    );
    const beat = await call(t.app, "POST", path, { headers: { "x-host-token": one.token } });
    expect(beat.status).toBe(204);
    const got = await call(t.app, "GET", `/v1/hosts/${one.host.id}`, { token: a.token });
    expect(got.body.status).toBe("online");
    expect(Date.now() - Date.parse(got.body.last_heartbeat_at)).toBeLessThan(10_000);
  });

  it("applies the heartbeat's sandbox report before the host shows online: auto-paused → paused, missing it runs → running", async () => {
    const a = await admin();
    const host = await registeredHost(a.token);
    const hostUuid = uuidOf(host.host.id);
    const teamUuid = uuidOf(a.team.id);
    const insert = async (state: string) =>
      (
        await t.db.pool.query(
          "INSERT INTO sandboxes (team_id, host_id, state, vcpus, memory_mb, timeout_sec) VALUES ($1, $2, $3, 1, 512, 300) RETURNING id",
          [teamUuid, hostUuid, state],
        )
      ).rows[0].id as string;
    const paused = await insert("running"); // the agent paused it at shutdown; the database did not hear
    const back = await insert("missing"); // the host was unreachable; its VM kept running
    const running = await insert("running"); // still runs: left alone
    const lost = await insert("running"); // unknown to the agent: the monitor decides, not a beat
    await t.db.pool.query(
      "UPDATE hosts SET status = 'unreachable', last_heartbeat_at = now() - interval '1 hour' WHERE id = $1",
      [hostUuid],
    );
    const beat = await call(t.app, "POST", `/v1/hosts/${host.host.id}/heartbeat`, {
      headers: { "x-host-token": host.token },
      body: {
        sandboxes: [
          { sandbox_id: `sb-${back}`, state: "running" },
          { sandbox_id: `sb-${running}`, state: "running" },
          { sandbox_id: "not-a-sandbox-id", state: "running" },
        ],
        auto_paused_sandbox_ids: [`sb-${paused}`],
        base_image_bytes: 345_678_912,
        warm_pool: [
          {
            template_id: "minimal",
            template_team_id: "00000000-0000-0000-0000-000000000000",
            ready: 1,
            starting: 0,
            memory_mb: 512,
          },
        ],
      },
    });
    expect(beat.status).toBe(204);
    // The warm pool is kept for placement (preferred host, memory its warm VMs hold).
    const meta = await t.db.pool.query("SELECT metadata FROM hosts WHERE id = $1", [hostUuid]);
    expect(meta.rows[0].metadata.warm_pool).toEqual([
      {
        template_id: "minimal",
        template_team_id: "00000000-0000-0000-0000-000000000000",
        ready: 1,
        starting: 0,
        memory_mb: 512,
      },
    ]);
    // The platform's `minimal` is the guest image every host builds: it takes what they report.
    const minimal = await t.db.pool.query(
      "SELECT size_bytes FROM templates WHERE name = 'minimal' AND team_id = '00000000-0000-0000-0000-000000000000'",
    );
    expect(Number(minimal.rows[0].size_bytes)).toBe(345_678_912);
    const states = await t.db.pool.query("SELECT id, state FROM sandboxes WHERE host_id = $1", [hostUuid]);
    const stateOf = Object.fromEntries(states.rows.map((r) => [r.id, r.state]));
    expect(stateOf).toEqual({
      [paused]: "paused",
      [back]: "running",
      [running]: "running",
      [lost]: "running",
    });
    const audit = await t.db.pool.query(
      "SELECT action FROM audit_logs WHERE resource_id = ANY($1::text[]) ORDER BY action",
      [[`sb-${paused}`, `sb-${back}`]],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(["reconcile_paused", "reconcile_running"]);
    expect((await call(t.app, "GET", `/v1/hosts/${host.host.id}`, { token: a.token })).body.status).toBe(
      "online",
    );

    const malformed = await call(t.app, "POST", `/v1/hosts/${host.host.id}/heartbeat`, {
      headers: { "x-host-token": host.token },
      body: { auto_paused_sandbox_ids: "sb-x" },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("invalid_argument");
    // Agents from before the report send no body, with a JSON content type: still a heartbeat.
    const older = await call(t.app, "POST", `/v1/hosts/${host.host.id}/heartbeat`, {
      headers: { "x-host-token": host.token, "content-type": "application/json" },
    });
    expect(older.status).toBe(204);
  });

  it("rotates refresh tokens: the new pair works, the old refresh token is refused", async () => {
    const a = await admin();
    const creds = await registeredHost(a.token);
    const r1 = await call(t.app, "POST", "/v1/hosts/refresh", {
      body: { refresh_token: creds.refresh_token },
    });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(creds.refresh_token);
    const replay = await call(t.app, "POST", "/v1/hosts/refresh", {
      body: { refresh_token: creds.refresh_token },
    });
    expect(replay.status).toBe(401);
    const beat = await call(t.app, "POST", `/v1/hosts/${creds.host.id}/heartbeat`, {
      headers: { "x-host-token": r1.body.token },
    });
    expect(beat.status).toBe(204);
    const r2 = await call(t.app, "POST", "/v1/hosts/refresh", {
      body: { refresh_token: r1.body.refresh_token },
    });
    expect(r2.status).toBe(200);
    const rows = await t.db.pool.query(
      "SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS live, count(*)::int AS total FROM host_refresh_tokens WHERE host_id = $1",
      [uuidOf(creds.host.id)],
    );
    expect(rows.rows[0]).toEqual({ live: 1, total: 3 });
  });

  it("lets exactly one of two concurrent refreshes with the same token win", async () => {
    const a = await admin();
    const creds = await registeredHost(a.token);
    const body = { refresh_token: creds.refresh_token };
    const both = await Promise.all([1, 2].map(() => call(t.app, "POST", "/v1/hosts/refresh", { body })));
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    const live = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM host_refresh_tokens WHERE host_id = $1 AND revoked_at IS NULL",
      [uuidOf(creds.host.id)],
    );
    expect(live.rows[0].n).toBe(1);
  });
});

describe("BYOC hosts, visibility and tags", () => {
  it("lets owners of BYOC teams add hosts; members see them; other teams get 404", async () => {
    const a = await admin();
    const owner = await signupUser(t.app, "Owner");
    const notByoc = await call(t.app, "POST", "/v1/hosts", { token: owner.token, body: { type: "byoc" } });
    expect(notByoc.status).toBe(409);
    const flag = await call(t.app, "PUT", `/v1/admin/teams/${owner.team.id}/byoc`, {
      token: a.token,
      body: { is_byoc: true },
    });
    expect(flag.status).toBe(200);
    const created = await call(t.app, "POST", "/v1/hosts", { token: owner.token, body: { type: "byoc" } });
    expect(created.status).toBe(201);
    expect(created.body.host.team_id).toBe(owner.team.id);

    const member = await signupUser(t.app, "Member");
    await call(t.app, "POST", `/v1/teams/${owner.team.id}/members`, {
      token: owner.token,
      body: { email: member.user.email, role: "member" },
    });
    const sw = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: member.token,
      body: { team_id: owner.team.id },
    });
    const hostPath = `/v1/hosts/${created.body.host.id}`;
    expect((await call(t.app, "GET", hostPath, { token: sw.body.token })).status).toBe(200);
    const memberList = await call(t.app, "GET", "/v1/hosts", { token: sw.body.token });
    expect(memberList.body.hosts.map((h: { id: string }) => h.id)).toEqual([created.body.host.id]);
    expect(
      (await call(t.app, "POST", `${hostPath}/tags`, { token: sw.body.token, body: { tag: "gpu" } })).status,
    ).toBe(403);

    const stranger = await signupUser(t.app, "Stranger");
    expect((await call(t.app, "GET", hostPath, { token: stranger.token })).status).toBe(404);
    expect((await call(t.app, "DELETE", hostPath, { token: stranger.token })).status).toBe(404);
    expect((await call(t.app, "GET", "/v1/hosts", { token: stranger.token })).body.hosts).toEqual([]);
    const adminList = await call(t.app, "GET", "/v1/hosts", { token: a.token });
    expect(adminList.body.hosts.map((h: { id: string }) => h.id)).toContain(created.body.host.id);
  });

  it("adds and removes tags, validating them", async () => {
    const a = await admin();
    const creds = await registeredHost(a.token);
    const path = `/v1/hosts/${creds.host.id}/tags`;
    expect((await call(t.app, "POST", path, { token: a.token, body: { tag: "zone:eu" } })).body.tags).toEqual(
      ["zone:eu"],
    );
    expect((await call(t.app, "POST", path, { token: a.token, body: { tag: "gpu" } })).body.tags).toEqual([
      "gpu",
      "zone:eu",
    ]);
    expect((await call(t.app, "POST", path, { token: a.token, body: { tag: "../x" } })).status).toBe(400);
    const removed = await call(t.app, "DELETE", `${path}/gpu`, { token: a.token });
    expect(removed.body.tags).toEqual(["zone:eu"]);
    expect((await call(t.app, "DELETE", `${path}/gpu`, { token: a.token })).status).toBe(404);
  });
});

describe("host deletion", () => {
  it("answers 409 with the affected sandboxes unless forced; force stops them even with the agent down", async () => {
    const a = await admin();
    // Nothing listens on this port: the forced delete must survive an unreachable agent.
    const creds = await registeredHost(a.token, `127.0.0.1:${await freePort()}`);
    const hostUuid = uuidOf(creds.host.id);
    const sb = await t.db.pool.query(
      "INSERT INTO sandboxes (team_id, host_id, state) VALUES ($1, $2, 'running') RETURNING id",
      [uuidOf(a.team.id), hostUuid],
    );
    const sandboxId = `sb-${sb.rows[0].id}`;
    const refused = await call(t.app, "DELETE", `/v1/hosts/${creds.host.id}`, { token: a.token });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "failed_precondition", sandboxes: [sandboxId] });

    const forced = await call(t.app, "DELETE", `/v1/hosts/${creds.host.id}?force=true`, { token: a.token });
    expect(forced.status).toBe(204);
    const state = await t.db.pool.query("SELECT state, host_id FROM sandboxes WHERE id = $1", [
      sb.rows[0].id,
    ]);
    expect(state.rows[0]).toEqual({ state: "stopped", host_id: null });
    expect((await call(t.app, "GET", `/v1/hosts/${creds.host.id}`, { token: a.token })).status).toBe(404);
    const beat = await call(t.app, "POST", `/v1/hosts/${creds.host.id}/heartbeat`, {
      headers: { "x-host-token": creds.token },
    });
    expect(beat.status).toBe(404);
    const refresh = await call(t.app, "POST", "/v1/hosts/refresh", {
      body: { refresh_token: creds.refresh_token },
    });
    expect(refresh.status).toBe(401);
  });
});
