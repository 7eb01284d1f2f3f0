import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { registerHost, signupAdmin } from "@wrenn/testing/hosts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The platform admin endpoints through app.request() on real PostgreSQL and Redis: who may call
// them, what they list, and the audit trail of changes.
let t: TestApp;
let admin: Awaited<ReturnType<typeof signupAdmin>>;
beforeAll(async () => {
  t = await createTestApp();
  admin = await signupAdmin(t);
});
afterAll(async () => {
  await t?.cleanup();
});

const uuid = (wire: string) => wire.slice(wire.indexOf("-") + 1);

describe("admin endpoints: access", () => {
  it("refuse non-admins (403), API keys and anonymous callers (401)", async () => {
    const user = await signupUser(t.app);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "k" } });
    const routes: [string, string, unknown?][] = [
      ["GET", "/v1/admin/hosts"],
      ["GET", "/v1/admin/teams"],
      ["GET", "/v1/admin/users"],
      ["PUT", `/v1/admin/users/${user.user.id}/admin`, { is_admin: true }],
      ["GET", "/v1/admin/audit-logs"],
    ];
    for (const [method, path, body] of routes) {
      const asUser = await call(t.app, method, path, { token: user.token, body });
      expect(asUser.status, path).toBe(403);
      expect(asUser.body).toEqual({ code: "permission_denied", message: "platform admin only" });
      expect((await call(t.app, method, path, { apiKey: key.body.key, body })).status, path).toBe(401);
      expect((await call(t.app, method, path, { body })).status, path).toBe(401);
    }
    // Nothing changed.
    const row = await t.db.pool.query("SELECT is_admin FROM users WHERE id = $1", [uuid(user.user.id)]);
    expect(row.rows[0].is_admin).toBe(false);
  });

  it("stop working the moment the admin flag is removed in the database (the JWT is only a hint)", async () => {
    const other = await signupAdmin(t, "Temp admin");
    expect((await call(t.app, "GET", "/v1/admin/users", { token: other.token })).status).toBe(200);
    await t.db.pool.query("UPDATE users SET is_admin = false WHERE id = $1", [uuid(other.user.id)]);
    expect((await call(t.app, "GET", "/v1/admin/users", { token: other.token })).status).toBe(403);
  });
});

describe("GET /v1/admin/hosts", () => {
  it("lists platform and BYOC hosts with their team, capacity and sandbox counts", async () => {
    const platform = await registerHost(t, admin.token, "127.0.0.1:5101");
    const byocTeam = await signupUser(t.app, "Byoc owner");
    await call(t.app, "PUT", `/v1/admin/teams/${byocTeam.team.id}/byoc`, {
      token: admin.token,
      body: { is_byoc: true },
    });
    const byoc = await call(t.app, "POST", "/v1/hosts", { token: byocTeam.token, body: { type: "byoc" } });
    expect(byoc.status).toBe(201);
    await t.db.pool.query(
      "INSERT INTO sandboxes (team_id, host_id, state) VALUES ($1, $2, 'running'), ($1, $2, 'running'), ($1, $2, 'paused'), ($1, $2, 'stopped')",
      [uuid(byocTeam.team.id), platform.uuid],
    );
    const res = await call(t.app, "GET", "/v1/admin/hosts", { token: admin.token });
    expect(res.status).toBe(200);
    const p = res.body.hosts.find((h: { id: string }) => h.id === platform.wire);
    expect(p).toMatchObject({
      type: "regular",
      team_id: null,
      team_name: null,
      status: "online",
      cpu_count: 2,
      memory_mb: 4096,
      cert_expires_at: null,
      sandboxes: { running: 2, paused: 1, live: 3 },
    });
    const b = res.body.hosts.find((h: { id: string }) => h.id === byoc.body.host.id);
    expect(b).toMatchObject({
      type: "byoc",
      team_id: byocTeam.team.id,
      team_name: "Byoc owner's team",
      status: "pending",
      sandboxes: { running: 0, paused: 0, live: 0 },
    });
  });
});

describe("GET /v1/admin/teams and PUT .../byoc", () => {
  it("lists every active team with members and sandboxes, filters by name, hides deleted ones", async () => {
    const a = await signupUser(t.app, "Zebra Crossing");
    const b = await signupUser(t.app);
    await call(t.app, "POST", `/v1/teams/${a.team.id}/members`, {
      token: a.token,
      body: { email: b.user.email },
    });
    await t.db.pool.query("INSERT INTO sandboxes (team_id, state) VALUES ($1, 'running')", [uuid(a.team.id)]);
    const all = await call(t.app, "GET", "/v1/admin/teams", { token: admin.token });
    expect(all.status).toBe(200);
    const row = all.body.teams.find((x: { id: string }) => x.id === a.team.id);
    expect(row).toMatchObject({
      name: "Zebra Crossing's team",
      is_byoc: false,
      member_count: 2,
      sandboxes: { running: 1, paused: 0, live: 1 },
    });
    // The platform team (owner of shared templates) is not a customer team.
    expect(
      all.body.teams.some((x: { id: string }) => x.id.endsWith("00000000-0000-0000-0000-000000000000")),
    ).toBe(false);
    const filtered = await call(t.app, "GET", "/v1/admin/teams?q=zebra", { token: admin.token });
    expect(filtered.body.teams.map((x: { id: string }) => x.id)).toEqual([a.team.id]);
    const escaped = await call(t.app, "GET", "/v1/admin/teams?q=%25", { token: admin.token });
    expect(escaped.body.teams).toEqual([]);
    const gone = await signupUser(t.app, "Deleted Co");
    expect((await call(t.app, "DELETE", `/v1/teams/${gone.team.id}`, { token: gone.token })).status).toBe(
      204,
    );
    const after = await call(t.app, "GET", "/v1/admin/teams?q=deleted", { token: admin.token });
    expect(after.body.teams).toEqual([]);
    const limited = await call(t.app, "GET", "/v1/admin/teams?limit=1", { token: admin.token });
    expect(limited.body.teams).toHaveLength(1);
    expect((await call(t.app, "GET", "/v1/admin/teams?limit=0", { token: admin.token })).status).toBe(400);
  });

  it("toggles BYOC (audited in the team's log)", async () => {
    const u = await signupUser(t.app);
    const on = await call(t.app, "PUT", `/v1/admin/teams/${u.team.id}/byoc`, {
      token: admin.token,
      body: { is_byoc: true },
    });
    expect(on.status).toBe(200);
    expect(on.body.is_byoc).toBe(true);
    const listed = await call(t.app, "GET", "/v1/admin/teams", { token: admin.token });
    expect(listed.body.teams.find((x: { id: string }) => x.id === u.team.id).is_byoc).toBe(true);
    const audit = await t.db.pool.query(
      "SELECT action, metadata FROM audit_logs WHERE team_id = $1 AND action = 'set_byoc'",
      [uuid(u.team.id)],
    );
    expect(audit.rows).toEqual([{ action: "set_byoc", metadata: { is_byoc: true } }]);
  });
});

describe("GET /v1/admin/users and PUT /v1/admin/users/{id}/admin", () => {
  it("lists users with flags and team counts, never a password hash", async () => {
    const u = await signupUser(t.app, "Grace Hopper");
    const res = await call(t.app, "GET", "/v1/admin/users?q=grace", { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.users).toEqual([
      {
        id: u.user.id,
        email: u.user.email,
        name: "Grace Hopper",
        is_admin: false,
        created_at: expect.any(String),
        team_count: 1,
        has_password: true,
      },
    ]);
    expect(JSON.stringify(res.body)).not.toMatch(/argon|password_hash/);
  });

  it("grants and removes the flag, audited; refuses removing your own and unknown users", async () => {
    const u = await signupUser(t.app);
    const grant = await call(t.app, "PUT", `/v1/admin/users/${u.user.id}/admin`, {
      token: admin.token,
      body: { is_admin: true },
    });
    expect(grant.status).toBe(200);
    expect(grant.body).toMatchObject({ id: u.user.id, is_admin: true });
    // Takes effect on the user's next request with the same token.
    expect((await call(t.app, "GET", "/v1/admin/hosts", { token: u.token })).status).toBe(200);
    const revoke = await call(t.app, "PUT", `/v1/admin/users/${u.user.id}/admin`, {
      token: admin.token,
      body: { is_admin: false },
    });
    expect(revoke.body.is_admin).toBe(false);
    expect((await call(t.app, "GET", "/v1/admin/hosts", { token: u.token })).status).toBe(403);
    const audit = await t.db.pool.query(
      "SELECT team_id, actor_id, resource_id, action, scope, metadata FROM audit_logs WHERE action = 'set_admin' AND resource_id = $1 ORDER BY created_at",
      [u.user.id],
    );
    expect(audit.rows).toEqual([
      {
        team_id: null,
        actor_id: admin.user.id,
        resource_id: u.user.id,
        action: "set_admin",
        scope: "admin",
        metadata: { is_admin: true },
      },
      expect.objectContaining({ metadata: { is_admin: false } }),
    ]);

    // Platform events have no team: admins read them at /v1/admin/audit-logs, newest first.
    const feed = await call(t.app, "GET", "/v1/admin/audit-logs?limit=1", { token: admin.token });
    expect(feed.status).toBe(200);
    expect(feed.body.items).toEqual([
      expect.objectContaining({ team_id: null, resource_id: u.user.id, metadata: { is_admin: false } }),
    ]);
    const next = await call(t.app, "GET", `/v1/admin/audit-logs?limit=1&cursor=${feed.body.next_cursor}`, {
      token: admin.token,
    });
    expect(next.body.items).toEqual([expect.objectContaining({ metadata: { is_admin: true } })]);
    expect((await call(t.app, "GET", "/v1/admin/audit-logs", { token: u.token })).status).toBe(403);
    // Team events never show up there.
    expect(feed.body.items.concat(next.body.items).every((e: { team_id: null }) => e.team_id === null)).toBe(
      true,
    );

    const self = await call(t.app, "PUT", `/v1/admin/users/${admin.user.id}/admin`, {
      token: admin.token,
      body: { is_admin: false },
    });
    expect(self.status).toBe(409);
    expect(self.body.message).toMatch(/your own admin flag/);
    const missing = await call(
      t.app,
      "PUT",
      "/v1/admin/users/usr-00000000-0000-4000-8000-000000000000/admin",
      {
        token: admin.token,
        body: { is_admin: true },
      },
    );
    expect(missing.status).toBe(404);
    const bad = await call(t.app, "PUT", `/v1/admin/users/${u.user.id}/admin`, {
      token: admin.token,
      body: { is_admin: "yes" },
    });
    expect(bad.status).toBe(400);
  });
});
