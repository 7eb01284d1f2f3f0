import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:net";
import { freePort } from "@wrenn/db";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { registerHost, signupAdmin } from "@wrenn/testing/hosts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// REST behaviour of /v1/snapshots that needs no VM: validation, team scoping,
// platform and `minimal` protection, the hard error when an agent cannot delete
// files, and the sandbox's state around a failed capture. Captures on a real
// agent and microVM are snapshots.vm.test.ts.
let t: TestApp;
let adminToken: string;
beforeAll(async () => {
  t = await createTestApp();
  adminToken = (await signupAdmin(t)).token;
});
afterAll(async () => {
  await t?.cleanup();
});

const PLATFORM = "00000000-0000-0000-0000-000000000000";

async function insertTemplate(teamUuid: string, name: string, hostUuid: string | null = null) {
  const r = await t.db.pool.query(
    "INSERT INTO templates (team_id, name, type, vcpus, memory_mb, size_bytes, host_id) VALUES ($1, $2, 'snapshot', 2, 1024, 4096, $3) RETURNING id",
    [teamUuid, name, hostUuid],
  );
  return r.rows[0].id as string;
}

async function templateRows(name: string) {
  return (await t.db.pool.query("SELECT id, team_id FROM templates WHERE name = $1", [name])).rows;
}

async function insertSandbox(teamUuid: string, state: string, hostUuid: string | null = null) {
  const r = await t.db.pool.query(
    "INSERT INTO sandboxes (team_id, state, host_id) VALUES ($1, $2, $3) RETURNING id",
    [teamUuid, state, hostUuid],
  );
  return r.rows[0].id as string;
}

async function sandboxState(uuid: string) {
  return (await t.db.pool.query("SELECT state FROM sandboxes WHERE id = $1", [uuid])).rows[0].state;
}

/** Registers a host whose "agent" is `address` (nothing real listens there); answers its UUID. */
async function registerHostAt(address: string): Promise<string> {
  return (await registerHost(t, adminToken, address)).uuid;
}

async function setHostStatus(hostUuid: string, status: string) {
  await t.db.pool.query("UPDATE hosts SET status = $2 WHERE id = $1", [hostUuid, status]);
}

describe("listing and reading templates", () => {
  it("shows the seeded minimal template and the team's own, never another team's", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    const mine = await insertTemplate(a.team.id.slice(5), "env-a");
    await insertTemplate(b.team.id.slice(5), "env-b");
    const list = await call(t.app, "GET", "/v1/snapshots", { token: a.token });
    expect(list.status).toBe(200);
    expect(list.body.templates.map((x: { name: string }) => x.name)).toEqual(["minimal", "env-a"]);
    expect(list.body.templates[0]).toMatchObject({
      id: `tpl-${PLATFORM}`,
      type: "image",
      platform: true,
      team_id: `team-${PLATFORM}`,
      host_id: null,
    });
    expect(list.body.templates[1]).toMatchObject({
      id: `tpl-${mine}`,
      name: "env-a",
      type: "snapshot",
      platform: false,
      vcpus: 2,
      memory_mb: 1024,
      size_bytes: 4096,
    });
    const images = await call(t.app, "GET", "/v1/snapshots?type=image", { token: a.token });
    expect(images.body.templates.map((x: { name: string }) => x.name)).toEqual(["minimal"]);
    expect((await call(t.app, "GET", "/v1/snapshots?type=bogus", { token: a.token })).status).toBe(400);

    const key = await call(t.app, "POST", "/v1/api-keys", { token: a.token, body: { name: "ci" } });
    const got = await call(t.app, "GET", "/v1/snapshots/env-a", { apiKey: key.body.key });
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(`tpl-${mine}`);
    expect((await call(t.app, "GET", "/v1/snapshots/minimal", { token: a.token })).body.platform).toBe(true);
    const other = await call(t.app, "GET", "/v1/snapshots/env-b", { token: a.token });
    expect(other.status).toBe(404);
    expect(other.body).toEqual({ code: "not_found", message: "template env-b not found" });
    expect((await call(t.app, "GET", "/v1/snapshots", {})).status).toBe(401);
  });

  it("lists every team's templates for platform admins only", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(u.team.id.slice(5), "admin-visible");
    const denied = await call(t.app, "GET", "/v1/admin/templates", { token: u.token });
    expect(denied.status).toBe(403);
    const all = await call(t.app, "GET", "/v1/admin/templates", { token: adminToken });
    expect(all.status).toBe(200);
    const names = all.body.templates.map((x: { name: string; team_id: string }) => [x.name, x.team_id]);
    expect(names).toEqual(
      expect.arrayContaining([
        ["minimal", `team-${PLATFORM}`],
        ["admin-visible", u.team.id],
        ["env-a", expect.any(String)],
        ["env-b", expect.any(String)],
      ]),
    );
  });
});

describe("capture requests that cannot start", () => {
  it("validates the body, naming the field, and changes nothing", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id.slice(5), "running");
    const post = (body: unknown) => call(t.app, "POST", "/v1/snapshots", { token: u.token, body });
    const traversal = await post({ sandbox_id: `sb-${sb}`, name: "../x" });
    expect(traversal.status).toBe(400);
    expect(traversal.body.code).toBe("invalid_argument");
    expect(traversal.body.message).toMatch(/^name must be 1-63 characters/);
    expect((await post({ sandbox_id: `sb-${sb}`, name: "a/b" })).status).toBe(400);
    expect((await post({ sandbox_id: `sb-${sb}`, name: "" })).status).toBe(400);
    expect((await post({ sandbox_id: `sb-${sb}`, name: "x".repeat(64) })).status).toBe(400);
    const noId = await post({ name: "ok" });
    expect(noId.status).toBe(400);
    expect(noId.body.message).toMatch(/sandbox_id/);
    const badId = await post({ sandbox_id: "nope" });
    expect(badId.status).toBe(400);
    expect(badId.body.message).toBe("sandbox_id must be a sb-<uuid> id");
    expect((await post({ sandbox_id: `sb-${sb}`, type: "disk" })).body.message).toMatch(/type/);
    expect((await post({ sandbox_id: `sb-${sb}`, extra: 1 })).status).toBe(400);
    expect(await sandboxState(sb)).toBe("running");
    expect(await templateRows("ok")).toEqual([]);
  });

  it("answers 404 for another team's sandbox and 409 for one that is not running", async () => {
    const owner = await signupUser(t.app);
    const other = await signupUser(t.app);
    const sb = await insertSandbox(owner.team.id.slice(5), "running");
    const foreign = await call(t.app, "POST", "/v1/snapshots", {
      token: other.token,
      body: { sandbox_id: `sb-${sb}`, name: "stolen" },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ code: "not_found", message: "sandbox not found" });
    const missing = await call(t.app, "POST", "/v1/snapshots", {
      token: owner.token,
      body: { sandbox_id: `sb-${randomUUID()}` },
    });
    expect(missing.status).toBe(404);
    const paused = await insertSandbox(owner.team.id.slice(5), "paused");
    const res = await call(t.app, "POST", "/v1/snapshots", {
      token: owner.token,
      body: { sandbox_id: `sb-${paused}`, name: "p" },
    });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      code: "failed_precondition",
      message: "cannot snapshot a sandbox that is paused",
    });
    expect(await templateRows("stolen")).toEqual([]);
  });
});

describe("deleting templates", () => {
  it("scopes deletion to the team (another team's template is 404 and stays)", async () => {
    const owner = await signupUser(t.app);
    const other = await signupUser(t.app);
    await insertTemplate(owner.team.id.slice(5), "keep-me");
    const res = await call(t.app, "DELETE", "/v1/snapshots/keep-me", { token: other.token });
    expect(res.status).toBe(404);
    expect(await templateRows("keep-me")).toHaveLength(1);
    expect((await call(t.app, "DELETE", "/v1/snapshots/..%2Fx", { token: owner.token })).status).toBe(400);
  });

  it("deletes the team's template (no host online: nothing to ask) with an audit event", async () => {
    const u = await signupUser(t.app);
    const id = await insertTemplate(u.team.id.slice(5), "gone-soon");
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "ci" } });
    const res = await call(t.app, "DELETE", "/v1/snapshots/gone-soon", { apiKey: key.body.key });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    expect(await templateRows("gone-soon")).toEqual([]);
    expect((await call(t.app, "GET", "/v1/snapshots/gone-soon", { token: u.token })).status).toBe(404);
    const audit = await t.db.pool.query(
      "SELECT action, actor_type, metadata FROM audit_logs WHERE resource_type = 'template' AND resource_id = $1",
      [`tpl-${id}`],
    );
    expect(audit.rows).toEqual([
      {
        action: "delete",
        actor_type: "api_key",
        metadata: { name: "gone-soon", reason: "delete", hosts: 0 },
      },
    ]);
    expect((await call(t.app, "DELETE", "/v1/snapshots/gone-soon", { token: u.token })).status).toBe(404);
  });

  it("lets only platform admins delete platform templates, and nobody delete minimal", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(PLATFORM, "shared-env");
    const denied = await call(t.app, "DELETE", "/v1/snapshots/shared-env", { token: u.token });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe("platform templates can only be deleted by platform admins");
    expect(await templateRows("shared-env")).toHaveLength(1);
    const adminKey = await call(t.app, "POST", "/v1/api-keys", { token: adminToken, body: { name: "k" } });
    // An API key acts for a team, never as a platform admin.
    expect(
      (await call(t.app, "DELETE", "/v1/snapshots/shared-env", { apiKey: adminKey.body.key })).status,
    ).toBe(403);
    expect((await call(t.app, "DELETE", "/v1/admin/templates/shared-env", { token: u.token })).status).toBe(
      403,
    );

    for (const [who, path] of [
      [u.token, "/v1/snapshots/minimal"],
      [adminToken, "/v1/snapshots/minimal"],
      [adminToken, "/v1/admin/templates/minimal"],
    ] as const) {
      const res = await call(t.app, "DELETE", path, { token: who });
      expect(res.status, path).toBe(403);
      expect(res.body.message).toBe("the minimal template cannot be deleted");
    }
    expect(await templateRows("minimal")).toHaveLength(1);

    const ok = await call(t.app, "DELETE", "/v1/snapshots/shared-env", { token: adminToken });
    expect(ok.status, JSON.stringify(ok.body)).toBe(204);
    expect(await templateRows("shared-env")).toEqual([]);
  });

  it("deletes a team's template as an admin with ?team_id", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(u.team.id.slice(5), "team-env");
    const noTeam = await call(t.app, "DELETE", "/v1/admin/templates/team-env", { token: adminToken });
    expect(noTeam.status).toBe(404);
    const badTeam = await call(t.app, "DELETE", "/v1/admin/templates/team-env?team_id=x", {
      token: adminToken,
    });
    expect(badTeam.status).toBe(400);
    const res = await call(t.app, "DELETE", `/v1/admin/templates/team-env?team_id=${u.team.id}`, {
      token: adminToken,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    expect(await templateRows("team-env")).toEqual([]);
  });
});

describe("with a host whose agent does not answer", () => {
  // A socket that records the sandbox's database state when the control plane's agent call arrives, then drops it.
  let server: Server;
  let hostUuid: string;
  let observed: string[] = [];
  let watched = "";
  beforeAll(async () => {
    const port = await freePort();
    server = createServer((sock) => {
      sock.once("data", async () => {
        if (watched) observed.push(await sandboxState(watched));
        sock.destroy();
      });
      sock.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    hostUuid = await registerHostAt(`127.0.0.1:${port}`);
  });
  afterAll(async () => {
    if (hostUuid) await setHostStatus(hostUuid, "offline");
    await new Promise((r) => server?.close(r));
  });

  it("keeps the template when an agent cannot delete its files (hard error)", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(u.team.id.slice(5), "sticky");
    const res = await call(t.app, "DELETE", "/v1/snapshots/sticky", { token: u.token });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("unavailable");
    expect(res.body.message).not.toMatch(/127\.0\.0\.1|ECONN/);
    expect(await templateRows("sticky")).toHaveLength(1);
  });

  it("marks the sandbox paused during the capture RPC and puts it back to running when it fails", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id.slice(5), "running", hostUuid);
    watched = sb;
    observed = [];
    const res = await call(t.app, "POST", "/v1/snapshots", {
      token: u.token,
      body: { sandbox_id: `sb-${sb}`, name: "fails" },
    });
    watched = "";
    expect(res.status).toBe(503);
    expect(observed[0]).toBe("paused");
    expect(await sandboxState(sb)).toBe("running");
    expect(await templateRows("fails")).toEqual([]);
    const audit = await t.db.pool.query(
      "SELECT action, status FROM audit_logs WHERE resource_type = 'template' AND team_id = $1",
      [u.team.id.slice(5)],
    );
    expect(audit.rows).toEqual([{ action: "create", status: "error" }]);
  });

  it("refuses a platform template's name with 409 before touching the sandbox", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id.slice(5), "running", hostUuid);
    const res = await call(t.app, "POST", "/v1/snapshots", {
      token: u.token,
      body: { sandbox_id: `sb-${sb}`, name: "minimal" },
    });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      code: "already_exists",
      message: "name minimal is taken by a platform template; choose another",
    });
    expect(await sandboxState(sb)).toBe("running");
  });

  it("overwriting deletes the old files first: when that fails, the old template and the sandbox stay", async () => {
    const u = await signupUser(t.app);
    const oldId = await insertTemplate(u.team.id.slice(5), "overwrite-me", hostUuid);
    const sb = await insertSandbox(u.team.id.slice(5), "running", hostUuid);
    watched = sb;
    observed = [];
    const res = await call(t.app, "POST", "/v1/snapshots", {
      token: u.token,
      body: { sandbox_id: `sb-${sb}`, name: "overwrite-me" },
    });
    watched = "";
    expect(res.status).toBe(503);
    // The only agent call was the delete, made while the sandbox was still running.
    expect(observed).toEqual(["running"]);
    expect(await sandboxState(sb)).toBe("running");
    expect((await templateRows("overwrite-me")).map((r) => r.id)).toEqual([oldId]);
  });

  it("refuses to delete a template while the host holding it is not online", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(u.team.id.slice(5), "on-host", hostUuid);
    await setHostStatus(hostUuid, "unreachable");
    try {
      const res = await call(t.app, "DELETE", "/v1/snapshots/on-host", { token: u.token });
      expect(res.status).toBe(503);
      expect(res.body.message).toBe(
        "the host holding template on-host is unreachable; delete it once the host is back online",
      );
      expect(await templateRows("on-host")).toHaveLength(1);
      const sandbox = await call(t.app, "POST", "/v1/sandboxes", {
        token: u.token,
        body: { template: "on-host" },
      });
      expect(sandbox.status).toBe(503);
      expect(sandbox.body.message).toBe("the host holding template on-host is not online");
    } finally {
      await setHostStatus(hostUuid, "online");
    }
  });

  it("team deletion removes what it can and keeps templates whose files could not be deleted", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(u.team.id.slice(5), "left-behind");
    const res = await call(t.app, "DELETE", `/v1/teams/${u.team.id}`, { token: u.token });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    expect(await templateRows("left-behind")).toHaveLength(1);
  });
});

describe("team deletion with no host online", () => {
  it("deletes the team's templates", async () => {
    const u = await signupUser(t.app);
    await insertTemplate(u.team.id.slice(5), "team-gone");
    const res = await call(t.app, "DELETE", `/v1/teams/${u.team.id}`, { token: u.token });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    expect(await templateRows("team-gone")).toEqual([]);
  });
});
