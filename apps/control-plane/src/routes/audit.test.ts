import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actorOf } from "../services/actor.ts";
import { AuditLogger } from "../services/audit.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

async function ownerWithMember() {
  const owner = await signupUser(t.app, "Olive Owner");
  const member = await signupUser(t.app, "Mo Member");
  await call(t.app, "POST", `/v1/teams/${owner.team.id}/members`, {
    token: owner.token,
    body: { email: member.user.email },
  });
  const sw = await call(t.app, "POST", "/v1/auth/switch-team", {
    token: member.token,
    body: { team_id: owner.team.id },
  });
  return { owner, member: { ...member, token: sw.body.token as string } };
}

describe("GET /v1/audit-logs", () => {
  it("records named events with the actor; members see team events, owners see all", async () => {
    const { owner, member } = await ownerWithMember();
    const key = await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "deploy" } });
    await call(t.app, "DELETE", `/v1/api-keys/${key.body.id}`, { token: owner.token });
    await call(t.app, "PATCH", `/v1/teams/${owner.team.id}`, {
      token: owner.token,
      body: { name: "Renamed" },
    });

    const all = await call(t.app, "GET", "/v1/audit-logs", { token: owner.token });
    expect(all.status).toBe(200);
    const actions = all.body.items.map(
      (e: { resource_type: string; action: string }) => `${e.resource_type}.${e.action}`,
    );
    expect(actions).toEqual(["team.rename", "api_key.revoke", "api_key.create", "member.add", "user.signup"]);
    const rename = all.body.items[0];
    expect(rename).toMatchObject({
      team_id: owner.team.id,
      actor: { type: "user", id: owner.user.id, name: "Olive Owner" },
      resource_id: owner.team.id,
      scope: "team",
      status: "success",
      metadata: { to: "Renamed" },
    });
    expect(rename.id).toMatch(/^evt-/);
    expect(all.body.items[1]).toMatchObject({
      resource_id: key.body.id,
      metadata: { name: "deploy" },
      scope: "admin",
    });

    const mine = await call(t.app, "GET", "/v1/audit-logs", { token: member.token });
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((e: { action: string }) => e.action)).toEqual(["rename", "add"]);
  });

  it("filters by several resource types and actions (comma-separated or repeated)", async () => {
    const { owner } = await ownerWithMember();
    await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "k" } });
    const byType = await call(t.app, "GET", "/v1/audit-logs?resource_type=api_key,member", {
      token: owner.token,
    });
    expect(byType.body.items.map((e: { resource_type: string }) => e.resource_type)).toEqual([
      "api_key",
      "member",
    ]);
    const repeated = await call(t.app, "GET", "/v1/audit-logs?action=create&action=signup", {
      token: owner.token,
    });
    expect(repeated.body.items.map((e: { action: string }) => e.action)).toEqual(["create", "signup"]);
  });

  it("filters by scope, status, actor and time window; a scope filter never widens a member's view", async () => {
    const { owner, member } = await ownerWithMember();
    await call(t.app, "PATCH", `/v1/teams/${owner.team.id}`, { token: member.token, body: { name: "x" } });
    const get = async (q: string, token = owner.token) => {
      const r = await call(t.app, "GET", `/v1/audit-logs?${q}`, { token });
      expect(r.status).toBe(200);
      return r.body.items.map(
        (e: { resource_type: string; action: string }) => `${e.resource_type}.${e.action}`,
      );
    };
    expect(await get("scope=admin")).toEqual(["user.signup"]);
    expect(await get("scope=team")).toEqual(["member.add"]);
    expect(await get("scope=admin", member.token)).toEqual([]);
    expect(await get("status=error")).toEqual([]);
    expect(await get("status=success,error")).toEqual(["member.add", "user.signup"]);
    // Part of the name, any case; or the exact id.
    expect(await get("actor=OLIVE")).toEqual(["member.add", "user.signup"]);
    expect(await get(`actor=${owner.user.id}`)).toEqual(["member.add", "user.signup"]);
    expect(await get("actor=%25")).toEqual([]);
    const future = new Date(Date.now() + 60_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    expect(await get(`since=${encodeURIComponent(future)}`)).toEqual([]);
    expect(await get(`since=${encodeURIComponent(past)}&until=${encodeURIComponent(future)}`)).toHaveLength(
      2,
    );
    expect(await get(`until=${encodeURIComponent(past)}`)).toEqual([]);
    for (const bad of ["scope=world", "status=fine", "since=yesterday", `since=${future}&until=${past}`]) {
      const r = await call(t.app, "GET", `/v1/audit-logs?${bad}`, { token: owner.token });
      expect(r.status, bad).toBe(400);
      expect(r.body.code).toBe("invalid_argument");
    }
  });

  it("paginates with a cursor (limit ≤ 200)", async () => {
    const u = await signupUser(t.app);
    for (let i = 0; i < 5; i++) {
      await call(t.app, "PATCH", `/v1/teams/${u.team.id}`, { token: u.token, body: { name: `n${i}` } });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = await call(t.app, "GET", `/v1/audit-logs?limit=2${q}`, { token: u.token });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(
        ...page.body.items.map(
          (e: { metadata: { to?: string }; action: string }) => e.metadata.to ?? e.action,
        ),
      );
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(["n4", "n3", "n2", "n1", "n0", "signup"]);
    expect(pages).toBe(3);
    expect((await call(t.app, "GET", "/v1/audit-logs?limit=201", { token: u.token })).status).toBe(400);
    expect((await call(t.app, "GET", "/v1/audit-logs?cursor=bogus", { token: u.token })).status).toBe(400);
    expect((await call(t.app, "GET", "/v1/audit-logs?colour=red", { token: u.token })).status).toBe(400);
  });

  it("never shows another team's events, even with its event id as cursor", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    const aLogs = await call(t.app, "GET", "/v1/audit-logs", { token: a.token });
    const bLogs = await call(t.app, "GET", `/v1/audit-logs?cursor=${aLogs.body.items[0].id}`, {
      token: b.token,
    });
    expect(bLogs.status).toBe(200);
    expect(bLogs.body.items).toEqual([]);
  });

  it("records an API key actor with the key's id and name", async () => {
    const u = await signupUser(t.app);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "robot" } });
    const audit = new AuditLogger(t.db.db, t.log);
    const actor = actorOf({
      kind: "api_key",
      userId: null,
      teamId: u.team.id.slice(5),
      roleHint: null,
      isAdmin: false,
      name: "robot",
      email: "",
      apiKey: { id: key.body.id.slice(4), name: "robot" },
    });
    await audit.teamRenamed(actor, u.team.id.slice(5), "a", "b");
    const logs = await call(t.app, "GET", "/v1/audit-logs?action=rename", { token: u.token });
    expect(logs.body.items[0].actor).toEqual({ type: "api_key", id: key.body.id, name: "robot" });
  });

  it("is for user sessions only", async () => {
    const u = await signupUser(t.app);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "k" } });
    expect((await call(t.app, "GET", "/v1/audit-logs", { apiKey: key.body.key })).status).toBe(401);
  });
});

describe("admin routes (requireAdmin checks the database)", () => {
  it("refuses non-admins even with a token claiming is_admin, and admits real admins", async () => {
    const u = await signupUser(t.app);
    const target = await signupUser(t.app);
    const path = `/v1/admin/teams/${target.team.id}/byoc`;
    const refused = await call(t.app, "PUT", path, { token: u.token, body: { is_byoc: true } });
    expect(refused.status).toBe(403);
    const { SessionTokens } = await import("../auth/jwt.ts");
    const forged = await new SessionTokens(t.config.jwtSecret, 60).sign({
      sub: u.user.id.slice(4),
      team: u.team.id.slice(5),
      role: "owner",
      is_admin: true,
      name: "x",
      email: u.user.email,
    });
    expect((await call(t.app, "PUT", path, { token: forged, body: { is_byoc: true } })).status).toBe(403);
    await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [u.user.id.slice(4)]);
    const ok = await call(t.app, "PUT", path, { token: u.token, body: { is_byoc: true } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: target.team.id, is_byoc: true });
    const me = await call(t.app, "GET", "/v1/me", { token: u.token });
    expect(me.body.user.is_admin).toBe(true);
    expect(
      (await call(t.app, "PUT", "/v1/admin/teams/team-x/byoc", { token: u.token, body: { is_byoc: true } }))
        .status,
    ).toBe(404);
  });
});
