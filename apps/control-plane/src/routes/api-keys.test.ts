import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

describe("API keys", () => {
  it("shows the key once, stores only its SHA-256, and lists prefix, name, creator and last use", async () => {
    const u = await signupUser(t.app, "Key Maker");
    const created = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "ci" } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^wrn_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ name: "ci", last_used_at: null });
    expect(created.body.id).toMatch(/^key-/);
    expect(created.body.prefix).toBe(created.body.key.slice(0, 12));
    expect(created.body.created_by).toMatchObject({ id: u.user.id, email: u.user.email, name: "Key Maker" });

    const { rows } = await t.db.pool.query("SELECT key_hash FROM team_api_keys");
    const { createHash } = await import("node:crypto");
    expect(rows.map((r) => r.key_hash)).toContain(
      createHash("sha256").update(created.body.key).digest("hex"),
    );
    expect(JSON.stringify(rows)).not.toContain(created.body.key);

    const me = await call(t.app, "GET", "/v1/me", { apiKey: created.body.key });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      team: { id: u.team.id },
      user: { id: u.user.id },
      role: null,
      auth: { type: "api_key", api_key: { id: created.body.id, name: "ci" } },
    });

    const list = await call(t.app, "GET", "/v1/api-keys", { token: u.token });
    expect(list.status).toBe(200);
    expect(list.body.api_keys).toHaveLength(1);
    const [listed] = list.body.api_keys;
    expect(listed).toMatchObject({ id: created.body.id, name: "ci", prefix: created.body.prefix });
    expect(listed.key).toBeUndefined();
    expect(Date.parse(listed.last_used_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("stops working immediately once deleted", async () => {
    const u = await signupUser(t.app);
    const { body } = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "temp" } });
    expect((await call(t.app, "GET", "/v1/me", { apiKey: body.key })).status).toBe(200);
    expect((await call(t.app, "DELETE", `/v1/api-keys/${body.id}`, { token: u.token })).status).toBe(204);
    const after = await call(t.app, "GET", "/v1/me", { apiKey: body.key });
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ code: "unauthenticated", message: "invalid API key" });
    expect((await call(t.app, "DELETE", `/v1/api-keys/${body.id}`, { token: u.token })).status).toBe(404);
  });

  it("rejects unknown and malformed keys, and keys on user-session-only routes", async () => {
    const u = await signupUser(t.app);
    const { body } = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "k" } });
    expect((await call(t.app, "GET", "/v1/me", { apiKey: "wrn_nope" })).status).toBe(401);
    expect((await call(t.app, "GET", "/v1/me", { apiKey: "garbage" })).status).toBe(401);
    const onJwtRoute = await call(t.app, "GET", "/v1/api-keys", { apiKey: body.key });
    expect(onJwtRoute.status).toBe(401);
    expect(onJwtRoute.body.message).toMatch(/user session/);
  });

  it("isolates teams: B can neither see nor delete A's keys (404, not 403)", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    const ka = await call(t.app, "POST", "/v1/api-keys", { token: a.token, body: { name: "a-key" } });
    const listB = await call(t.app, "GET", "/v1/api-keys", { token: b.token });
    expect(listB.body.api_keys).toEqual([]);
    const del = await call(t.app, "DELETE", `/v1/api-keys/${ka.body.id}`, { token: b.token });
    expect(del.status).toBe(404);
    expect(del.body).toEqual({ code: "not_found", message: "API key not found" });
    // B's key sees only B's team.
    const kb = await call(t.app, "POST", "/v1/api-keys", { token: b.token, body: { name: "b-key" } });
    const meB = await call(t.app, "GET", "/v1/me", { apiKey: kb.body.key });
    expect(meB.body.team.id).toBe(b.team.id);
    expect((await call(t.app, "GET", "/v1/me", { apiKey: ka.body.key })).status).toBe(200);
    expect((await call(t.app, "DELETE", "/v1/api-keys/not-an-id", { token: b.token })).status).toBe(404);
  });

  it("lets members delete only their own keys; admins delete any", async () => {
    const owner = await signupUser(t.app);
    const member = await signupUser(t.app);
    await call(t.app, "POST", `/v1/teams/${owner.team.id}/members`, {
      token: owner.token,
      body: { email: member.user.email, role: "member" },
    });
    const sw = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: member.token,
      body: { team_id: owner.team.id },
    });
    const ownerKey = await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "o" } });
    const memberKey = await call(t.app, "POST", "/v1/api-keys", {
      token: sw.body.token,
      body: { name: "m" },
    });
    expect(memberKey.status).toBe(201);
    const denied = await call(t.app, "DELETE", `/v1/api-keys/${ownerKey.body.id}`, { token: sw.body.token });
    expect(denied.status).toBe(403);
    expect((await call(t.app, "GET", "/v1/me", { apiKey: ownerKey.body.key })).status).toBe(200);
    expect(
      (await call(t.app, "DELETE", `/v1/api-keys/${memberKey.body.id}`, { token: sw.body.token })).status,
    ).toBe(204);
    expect(
      (await call(t.app, "DELETE", `/v1/api-keys/${ownerKey.body.id}`, { token: owner.token })).status,
    ).toBe(204);
  });

  it("validates the name", async () => {
    const u = await signupUser(t.app);
    const res = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "" } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^name: /);
  });
});
