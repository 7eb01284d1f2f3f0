import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

/** An owner with a team, plus users joined with the given roles (each with a token for that team). */
async function teamWith(...roles: ("admin" | "member" | "owner")[]) {
  const owner = await signupUser(t.app, "Owner");
  const others = [];
  for (const role of roles) {
    const u = await signupUser(t.app, role);
    const add = await call(t.app, "POST", `/v1/teams/${owner.team.id}/members`, {
      token: owner.token,
      body: { email: u.user.email, role },
    });
    expect(add.status).toBe(201);
    const sw = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: u.token,
      body: { team_id: owner.team.id },
    });
    others.push({ ...u, token: sw.body.token as string });
  }
  return { owner, teamId: owner.team.id, others };
}

describe("teams", () => {
  it("creates, lists, gets and renames", async () => {
    const u = await signupUser(t.app);
    const created = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "Lab" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Lab", role: "owner", is_default: false });
    const list = await call(t.app, "GET", "/v1/teams", { token: u.token });
    expect(list.body.teams.map((x: { id: string }) => x.id)).toEqual([u.team.id, created.body.id]);
    expect(list.body.teams[0].is_default).toBe(true);
    const got = await call(t.app, "GET", `/v1/teams/${created.body.id}`, { token: u.token });
    expect(got.body).toMatchObject({ id: created.body.id, slug: created.body.slug });
    const renamed = await call(t.app, "PATCH", `/v1/teams/${created.body.id}`, {
      token: u.token,
      body: { name: "Lab 2" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: "Lab 2", slug: created.body.slug });
  });

  it("hides other teams entirely (404 for get, rename, delete, members, add, leave)", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    const id = a.team.id;
    const tries = [
      call(t.app, "GET", `/v1/teams/${id}`, { token: b.token }),
      call(t.app, "PATCH", `/v1/teams/${id}`, { token: b.token, body: { name: "pwned" } }),
      call(t.app, "DELETE", `/v1/teams/${id}`, { token: b.token }),
      call(t.app, "GET", `/v1/teams/${id}/members`, { token: b.token }),
      call(t.app, "POST", `/v1/teams/${id}/members`, { token: b.token, body: { email: b.user.email } }),
      call(t.app, "PATCH", `/v1/teams/${id}/members/${a.user.id}`, {
        token: b.token,
        body: { role: "member" },
      }),
      call(t.app, "DELETE", `/v1/teams/${id}/members/${a.user.id}`, { token: b.token }),
      call(t.app, "POST", `/v1/teams/${id}/leave`, { token: b.token }),
    ];
    for (const res of await Promise.all(tries)) {
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("not_found");
    }
    const still = await call(t.app, "GET", `/v1/teams/${id}`, { token: a.token });
    expect(still.body.name).not.toBe("pwned");
    expect((await call(t.app, "GET", "/v1/teams/team-zzz", { token: a.token })).status).toBe(404);
  });

  it("lets admins rename but not delete; members neither; owners delete (soft)", async () => {
    const { owner, teamId, others } = await teamWith("admin", "member");
    const [admin, member] = others as [(typeof others)[0], (typeof others)[0]];
    expect(
      (await call(t.app, "PATCH", `/v1/teams/${teamId}`, { token: member.token, body: { name: "m" } }))
        .status,
    ).toBe(403);
    expect(
      (await call(t.app, "PATCH", `/v1/teams/${teamId}`, { token: admin.token, body: { name: "a" } })).status,
    ).toBe(200);
    const adminDelete = await call(t.app, "DELETE", `/v1/teams/${teamId}`, { token: admin.token });
    expect(adminDelete.status).toBe(403);
    expect(adminDelete.body).toEqual({
      code: "permission_denied",
      message: "this action needs the owner role",
    });
    expect((await call(t.app, "DELETE", `/v1/teams/${teamId}`, { token: owner.token })).status).toBe(204);
    expect((await call(t.app, "GET", `/v1/teams/${teamId}`, { token: owner.token })).status).toBe(404);
    const { rows } = await t.db.pool.query("SELECT slug, deleted_at FROM teams WHERE id = $1", [
      teamId.slice(5),
    ]);
    expect(rows[0].deleted_at).not.toBeNull();
    // A session still pointing at the deleted team is refused.
    expect((await call(t.app, "GET", "/v1/me", { token: member.token })).status).toBe(403);
  });

  it("runs the team-deletion hooks (where sandboxes get destroyed) before the soft delete", async () => {
    const seen: { teamId: string; deletedAt: unknown }[] = [];
    const hooked = await createTestApp({
      deps: {
        teamDeletionHooks: [
          async (teamId) => {
            const { rows } = await hooked.db.pool.query("SELECT deleted_at FROM teams WHERE id = $1", [
              teamId,
            ]);
            seen.push({ teamId, deletedAt: rows[0]?.deleted_at });
          },
        ],
      },
    });
    try {
      const u = await signupUser(hooked.app);
      expect((await call(hooked.app, "DELETE", `/v1/teams/${u.team.id}`, { token: u.token })).status).toBe(
        204,
      );
      expect(seen).toEqual([{ teamId: u.team.id.slice(5), deletedAt: null }]);
    } finally {
      await hooked.cleanup();
    }
  });

  it("manages members: add by email, list, change roles, remove", async () => {
    const { owner, teamId, others } = await teamWith("member");
    const [member] = others as [(typeof others)[0]];
    const list = await call(t.app, "GET", `/v1/teams/${teamId}/members`, { token: member.token });
    expect(list.status).toBe(200);
    expect(list.body.members.map((m: { role: string }) => m.role)).toEqual(["owner", "member"]);
    const dup = await call(t.app, "POST", `/v1/teams/${teamId}/members`, {
      token: owner.token,
      body: { email: member.user.email },
    });
    expect(dup.status).toBe(409);
    const ghost = await call(t.app, "POST", `/v1/teams/${teamId}/members`, {
      token: owner.token,
      body: { email: "ghost@example.com" },
    });
    expect(ghost.status).toBe(404);
    const memberAdds = await call(t.app, "POST", `/v1/teams/${teamId}/members`, {
      token: member.token,
      body: { email: owner.user.email },
    });
    expect(memberAdds.status).toBe(403);
    const promote = await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${member.user.id}`, {
      token: owner.token,
      body: { role: "admin" },
    });
    expect(promote.status).toBe(204);
    const me = await call(t.app, "GET", `/v1/teams/${teamId}`, { token: member.token });
    expect(me.body.role).toBe("admin");
    expect(
      (
        await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${member.user.id}`, {
          token: owner.token,
          body: { role: "boss" },
        })
      ).status,
    ).toBe(400);
    expect(
      (await call(t.app, "DELETE", `/v1/teams/${teamId}/members/${member.user.id}`, { token: owner.token }))
        .status,
    ).toBe(204);
    expect((await call(t.app, "GET", `/v1/teams/${teamId}`, { token: member.token })).status).toBe(404);
  });

  it("keeps an owner: the last owner can neither leave nor be demoted nor removed", async () => {
    const { owner, teamId, others } = await teamWith("admin");
    const [admin] = others as [(typeof others)[0]];
    const leave = await call(t.app, "POST", `/v1/teams/${teamId}/leave`, { token: owner.token });
    expect(leave.status).toBe(409);
    expect(leave.body.code).toBe("failed_precondition");
    expect(leave.body.message).toMatch(/at least one owner/);
    const demote = await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${owner.user.id}`, {
      token: owner.token,
      body: { role: "admin" },
    });
    expect(demote.status).toBe(409);
    // Admins cannot touch owners at all.
    const adminDemotes = await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${owner.user.id}`, {
      token: admin.token,
      body: { role: "member" },
    });
    expect(adminDemotes.status).toBe(403);
    expect(
      (await call(t.app, "DELETE", `/v1/teams/${teamId}/members/${owner.user.id}`, { token: admin.token }))
        .status,
    ).toBe(403);
    const adminPromotes = await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${admin.user.id}`, {
      token: admin.token,
      body: { role: "owner" },
    });
    expect(adminPromotes.status).toBe(403);
    // With a second owner the first may step down and leave.
    expect(
      (
        await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${admin.user.id}`, {
          token: owner.token,
          body: { role: "owner" },
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${owner.user.id}`, {
          token: owner.token,
          body: { role: "member" },
        })
      ).status,
    ).toBe(204);
    expect((await call(t.app, "POST", `/v1/teams/${teamId}/leave`, { token: owner.token })).status).toBe(204);
    const members = await call(t.app, "GET", `/v1/teams/${teamId}/members`, { token: admin.token });
    expect(members.body.members).toHaveLength(1);
    expect(members.body.members[0]).toMatchObject({ user_id: admin.user.id, role: "owner" });
    const lastLeaves = await call(t.app, "POST", `/v1/teams/${teamId}/leave`, { token: admin.token });
    expect(lastLeaves.status).toBe(409);
  });

  it("serializes owner changes: of two owners leaving at once, exactly one succeeds", async () => {
    const { owner, teamId, others } = await teamWith("owner");
    const [second] = others as [(typeof others)[0]];
    const results = await Promise.all([
      call(t.app, "POST", `/v1/teams/${teamId}/leave`, { token: owner.token }),
      call(t.app, "POST", `/v1/teams/${teamId}/leave`, { token: second.token }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([204, 409]);
    const { rows } = await t.db.pool.query("SELECT role FROM users_teams WHERE team_id = $1", [
      teamId.slice(5),
    ]);
    expect(rows).toEqual([{ role: "owner" }]);
  });

  it("ignores the JWT role hint: a demoted admin loses admin rights at once", async () => {
    const { owner, teamId, others } = await teamWith("admin");
    const [admin] = others as [(typeof others)[0]];
    await call(t.app, "PATCH", `/v1/teams/${teamId}/members/${admin.user.id}`, {
      token: owner.token,
      body: { role: "member" },
    });
    // admin.token still says role=admin.
    const res = await call(t.app, "PATCH", `/v1/teams/${teamId}`, {
      token: admin.token,
      body: { name: "x" },
    });
    expect(res.status).toBe(403);
  });

  it("validates bodies strictly", async () => {
    const u = await signupUser(t.app);
    const res = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "x", slug: "abc" } });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/slug/);
  });
});

describe("GET /v1/users/search", () => {
  async function signupAs(email: string) {
    const s = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: "z", email, password: "long enough" },
    });
    expect(s.status).toBe(201);
    return s.body as { token: string; user: { id: string; email: string }; team: { id: string } };
  }

  it("finds teammates by email prefix (≥ 3 chars) and escapes LIKE metacharacters", async () => {
    const u = await signupUser(t.app);
    for (const email of ["zed_one@search.io", "zedXone@search.io"]) {
      await signupAs(email);
      const added = await call(t.app, "POST", `/v1/teams/${u.team.id}/members`, {
        token: u.token,
        body: { email },
      });
      expect(added.status).toBe(201);
    }
    const res = await call(t.app, "GET", "/v1/users/search?email=zed_", { token: u.token });
    expect(res.status).toBe(200);
    expect(res.body.users.map((x: { email: string }) => x.email)).toEqual(["zed_one@search.io"]);
    expect(res.body.users[0].id).toMatch(/^usr-/);
    // Unescaped, "zed%" would match both addresses.
    const pct = await call(t.app, "GET", "/v1/users/search?email=zed%25", { token: u.token });
    expect(pct.status).toBe(200);
    expect(pct.body.users).toEqual([]);
    const plain = await call(t.app, "GET", "/v1/users/search?email=ZED", { token: u.token });
    expect(plain.body.users).toHaveLength(2);
    const short = await call(t.app, "GET", "/v1/users/search?email=ze", { token: u.token });
    expect(short.status).toBe(400);
    expect(short.body.message).toMatch(/at least 3/);
    expect((await call(t.app, "GET", "/v1/users/search?email=zed")).status).toBe(401);
    expect((await call(t.app, "GET", "/v1/users/search", { token: u.token })).status).toBe(400);
  });

  it("never lists accounts that share no team with the caller, except by their exact email", async () => {
    const u = await signupUser(t.app);
    const stranger = await signupAs("quill.stranger@elsewhere.io");
    const prefix = await call(t.app, "GET", "/v1/users/search?email=quill", { token: u.token });
    expect(prefix.body.users).toEqual([]);
    const almost = await call(t.app, "GET", "/v1/users/search?email=quill.stranger@elsewhere.i", {
      token: u.token,
    });
    expect(almost.body.users).toEqual([]);
    const exact = await call(t.app, "GET", "/v1/users/search?email=Quill.Stranger@Elsewhere.io", {
      token: u.token,
    });
    expect(exact.body.users).toEqual([
      { id: stranger.user.id, email: "quill.stranger@elsewhere.io", name: "z" },
    ]);
    // Members of any of the caller's teams count, not only the current one; the caller too.
    const side = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "Side project" } });
    await call(t.app, "POST", `/v1/teams/${side.body.id}/members`, {
      token: u.token,
      body: { email: "quill.stranger@elsewhere.io" },
    });
    const shared = await call(t.app, "GET", "/v1/users/search?email=quill", { token: u.token });
    expect(shared.body.users.map((x: { id: string }) => x.id)).toEqual([stranger.user.id]);
    const self = await call(t.app, "GET", `/v1/users/search?email=${u.user.email.slice(0, 8)}`, {
      token: u.token,
    });
    expect(self.body.users.map((x: { id: string }) => x.id)).toEqual([u.user.id]);
  });
});

describe("API keys follow their creator's access", () => {
  async function keyFor(token: string) {
    const k = await call(t.app, "POST", "/v1/api-keys", { token, body: { name: "ci" } });
    expect(k.status).toBe(201);
    return k.body.key as string;
  }
  const works = async (key: string) => (await call(t.app, "GET", "/v1/sandboxes", { apiKey: key })).status;

  it("revokes a removed member's keys and only theirs", async () => {
    const { owner, teamId, others } = await teamWith("member", "member");
    const [gone, stays] = others;
    const goneKey = await keyFor(gone?.token ?? "");
    const staysKey = await keyFor(stays?.token ?? "");
    const ownerKey = await keyFor(owner.token);
    expect(await works(goneKey)).toBe(200);
    const del = await call(t.app, "DELETE", `/v1/teams/${teamId}/members/${gone?.user.id}`, {
      token: owner.token,
    });
    expect(del.status).toBe(204);
    expect(await works(goneKey)).toBe(401);
    expect(await works(staysKey)).toBe(200);
    expect(await works(ownerKey)).toBe(200);
    const list = await call(t.app, "GET", "/v1/api-keys", { token: owner.token });
    expect(list.body.api_keys).toHaveLength(2);
  });

  it("revokes the keys of a member who leaves", async () => {
    const { teamId, others } = await teamWith("admin");
    const key = await keyFor(others[0]?.token ?? "");
    expect(await works(key)).toBe(200);
    const left = await call(t.app, "POST", `/v1/teams/${teamId}/leave`, { token: others[0]?.token });
    expect([200, 204]).toContain(left.status);
    expect(await works(key)).toBe(401);
  });

  it("revokes every key of a deleted team", async () => {
    const u = await signupUser(t.app);
    const team = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "Gone" } });
    const sw = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: u.token,
      body: { team_id: team.body.id },
    });
    const key = await keyFor(sw.body.token);
    expect(await works(key)).toBe(200);
    expect((await call(t.app, "DELETE", `/v1/teams/${team.body.id}`, { token: u.token })).status).toBe(204);
    expect(await works(key)).toBe(401);
    const rows = await t.db.db.execute(
      sql`SELECT count(*)::int AS n FROM team_api_keys WHERE team_id = ${String(team.body.id).slice("team-".length)}`,
    );
    expect(rows.rows[0]).toEqual({ n: 0 });
  });
});
