import { freePort } from "@wrenn/db";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { registerHost, signupAdmin } from "@wrenn/testing/hosts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// REST behaviour that needs no VM: validation, team scoping, listing, and the
// errors when no host (or no reachable agent) can run the sandbox. The
// lifecycle on a real agent and microVM is sandboxes.vm.test.ts.
let t: TestApp;
let adminToken: string;
beforeAll(async () => {
  t = await createTestApp();
  adminToken = (await signupAdmin(t)).token;
});
afterAll(async () => {
  await t?.cleanup();
});

async function insertSandbox(
  teamWire: string,
  over: { state?: string; metadata?: Record<string, string> } = {},
) {
  const r = await t.db.pool.query(
    "INSERT INTO sandboxes (team_id, state, metadata) VALUES ($1, $2, $3) RETURNING id",
    [teamWire.slice(5), over.state ?? "running", JSON.stringify(over.metadata ?? {})],
  );
  return `sb-${r.rows[0].id}`;
}

describe("sandbox creation errors", () => {
  it("answers 503 with a clear message when no host is online", async () => {
    const u = await signupUser(t.app);
    const res = await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body: {} });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ code: "unavailable", message: expect.stringMatching(/no online host/) });
  });

  it("validates the template name, sizes and maps, naming the limits", async () => {
    const u = await signupUser(t.app);
    const bad = async (body: Record<string, unknown>) => {
      const res = await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body });
      return res;
    };
    const traversal = await bad({ template: "../etc" });
    expect(traversal.status).toBe(400);
    expect(traversal.body.message).toMatch(/template/);
    const unknown = await bad({ template: "no-such-template" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/no-such-template/);
    const cpus = await bad({ vcpus: 512 });
    expect(cpus.status).toBe(400);
    expect(cpus.body.message).toBe("vcpus must be an integer from 1 to 8");
    const mem = await bad({ memory_mb: 1_000_000 });
    expect(mem.body.message).toBe("memory_mb must be an integer from 128 to 16384");
    expect((await bad({ disk_size_mb: 1 })).body.message).toMatch(/disk_size_mb must be an integer from 512/);
    expect((await bad({ timeout_sec: -1 })).status).toBe(400);
    expect((await bad({ metadata: { k: 1 } })).status).toBe(400);
    expect((await bad({ extra: true })).status).toBe(400);
    // Egress rules are checked before anything is placed, the error naming the field.
    expect((await bad({ deny_out: ["evil.test"] })).body.message).toMatch(
      /^deny_out: domain names are not supported/,
    );
    expect((await bad({ allow_out: ["pypi.org"] })).body.message).toMatch(
      /^allow_out: allowing domains needs/,
    );
    expect((await bad({ allow_out: ["1.2.3.4/33"] })).body.message).toMatch(/^allow_out: invalid CIDR/);
    const update = await call(t.app, "PUT", "/v1/sandboxes/sb-00000000-0000-4000-8000-000000000000/network", {
      token: u.token,
      body: { allow_internet: false, deny_out: ["10.0.0.0/8:0"] },
    });
    expect(update).toMatchObject({ status: 400, body: { message: /^deny_out: invalid port/ } });
  });

  it("refuses an exec user that is not a plain user name before any agent is asked", async () => {
    const u = await signupUser(t.app);
    const id = await insertSandbox(u.team.id);
    const res = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token: u.token,
      body: { cmd: "id", user: "root; rm -rf /" },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/user/);
  });

  it("answers 503 unavailable when the chosen host's agent does not answer, leaving the sandbox in error", async () => {
    const host = await registerHost(t, adminToken, `127.0.0.1:${await freePort()}`); // nothing listens there
    try {
      const u = await signupUser(t.app);
      const res = await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body: { timeout_sec: 0 } });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("unavailable");
      expect(res.body.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
      const list = await call(t.app, "GET", "/v1/sandboxes", { token: u.token });
      expect(list.body.sandboxes).toHaveLength(1);
      expect(list.body.sandboxes[0]).toMatchObject({
        state: "error",
        template: "minimal",
        host_id: host.wire,
      });
      // Deleting it (its agent still unreachable) really removes it from the list.
      const id = list.body.sandboxes[0].id;
      expect((await call(t.app, "DELETE", `/v1/sandboxes/${id}`, { token: u.token })).status).toBe(204);
      const after = await call(t.app, "GET", "/v1/sandboxes", { token: u.token });
      expect(after.body.sandboxes).toHaveLength(0);
      const got = await call(t.app, "GET", `/v1/sandboxes/${id}`, { token: u.token });
      expect(got.body.state).toBe("stopped");
    } finally {
      await call(t.app, "DELETE", `/v1/hosts/${host.wire}?force=true`, { token: adminToken });
    }
  });
});

describe("sandbox create's failure paths", () => {
  it("answers with the agent's error even when recording the failure fails too", async () => {
    const host = await registerHost(t, adminToken, `127.0.0.1:${await freePort()}`); // nothing listens there
    // The database refuses to record the error state (a real failure, from a real trigger).
    await t.db.pool.query(`CREATE FUNCTION h17_refuse_error() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.state = 'error' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$`);
    await t.db.pool.query(
      "CREATE TRIGGER h17_refuse_error BEFORE UPDATE ON sandboxes FOR EACH ROW EXECUTE FUNCTION h17_refuse_error()",
    );
    try {
      const u = await signupUser(t.app);
      const res = await call(t.app, "POST", "/v1/sandboxes", { token: u.token, body: { timeout_sec: 0 } });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("unavailable");
    } finally {
      await t.db.pool.query("DROP TRIGGER h17_refuse_error ON sandboxes; DROP FUNCTION h17_refuse_error()");
      await call(t.app, "DELETE", `/v1/hosts/${host.wire}?force=true`, { token: adminToken });
    }
  });
});

describe("sandbox reads", () => {
  it("scopes every route to the caller's team (404 otherwise), by API key or session", async () => {
    const owner = await signupUser(t.app);
    const other = await signupUser(t.app);
    const id = await insertSandbox(owner.team.id);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "ci" } });
    const viaKey = await call(t.app, "GET", `/v1/sandboxes/${id}`, { apiKey: key.body.key });
    expect(viaKey.status).toBe(200);
    expect(viaKey.body).toMatchObject({
      id,
      state: "running",
      template: "minimal",
      host_id: null,
      vcpus: 1,
      memory_mb: 512,
      disk_size_mb: 5120,
      metadata: {},
    });
    expect(viaKey.body.id).toMatch(/^sb-[0-9a-f-]{36}$/);
    for (const [method, path] of [
      ["GET", `/v1/sandboxes/${id}`],
      ["DELETE", `/v1/sandboxes/${id}`],
      ["POST", `/v1/sandboxes/${id}/pause`],
      ["POST", `/v1/sandboxes/${id}/ping`],
    ] as const) {
      expect((await call(t.app, method, path, { token: other.token })).status, `${method} ${path}`).toBe(404);
    }
    const exec = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token: other.token,
      body: { cmd: "id" },
    });
    expect(exec.status).toBe(404);
    expect((await call(t.app, "GET", "/v1/sandboxes/sb-nonsense", { token: owner.token })).status).toBe(404);
    expect((await call(t.app, "GET", "/v1/sandboxes", { token: other.token })).body.sandboxes).toEqual([]);
  });

  it("filters by state and metadata and pages with a cursor, newest first", async () => {
    const u = await signupUser(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        await insertSandbox(u.team.id, {
          state: i % 2 ? "paused" : "running",
          metadata: { n: String(i), env: "ci" },
        }),
      );
    }
    const newestFirst = [...ids].reverse();
    const page1 = await call(t.app, "GET", "/v1/sandboxes?limit=2", { token: u.token });
    expect(page1.body.sandboxes.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(0, 2));
    const page2 = await call(t.app, "GET", `/v1/sandboxes?limit=2&cursor=${page1.body.next_cursor}`, {
      token: u.token,
    });
    expect(page2.body.sandboxes.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(2, 4));
    const page3 = await call(t.app, "GET", `/v1/sandboxes?limit=2&cursor=${page2.body.next_cursor}`, {
      token: u.token,
    });
    expect(page3.body.sandboxes.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(4));
    expect(page3.body.next_cursor).toBeNull();

    const paused = await call(t.app, "GET", "/v1/sandboxes?state=paused", { token: u.token });
    expect(paused.body.sandboxes.map((s: { id: string }) => s.id)).toEqual([ids[3], ids[1]]);
    const meta = encodeURIComponent("n=2&env=ci");
    const byMeta = await call(t.app, "GET", `/v1/sandboxes?metadata=${meta}`, { token: u.token });
    expect(byMeta.body.sandboxes.map((s: { id: string }) => s.id)).toEqual([ids[2]]);
    expect((await call(t.app, "GET", "/v1/sandboxes?state=bogus", { token: u.token })).status).toBe(400);
    expect((await call(t.app, "GET", "/v1/sandboxes?cursor=sb-x", { token: u.token })).status).toBe(400);
    const foreign = await insertSandbox((await signupUser(t.app)).team.id);
    expect((await call(t.app, "GET", `/v1/sandboxes?cursor=${foreign}`, { token: u.token })).status).toBe(
      400,
    );
  });

  it("filters by template name, combined with state and the cursor", async () => {
    const u = await signupUser(t.app);
    const other = await signupUser(t.app);
    const make = async (team: string, template: string, state = "running") => {
      const r = await t.db.pool.query(
        "INSERT INTO sandboxes (team_id, state, template) VALUES ($1, $2, $3) RETURNING id",
        [team.slice(5), state, template],
      );
      return `sb-${r.rows[0].id}`;
    };
    const py1 = await make(u.team.id, "python");
    await make(u.team.id, "minimal");
    const py2 = await make(u.team.id, "python", "paused");
    const py3 = await make(u.team.id, "python");
    await make(other.team.id, "python");
    const ids = (res: { body: { sandboxes: { id: string }[] } }) => res.body.sandboxes.map((s) => s.id);
    const all = await call(t.app, "GET", "/v1/sandboxes?template=python", { token: u.token });
    expect(ids(all)).toEqual([py3, py2, py1]);
    const running = await call(t.app, "GET", "/v1/sandboxes?template=python&state=running", {
      token: u.token,
    });
    expect(ids(running)).toEqual([py3, py1]);
    const page1 = await call(t.app, "GET", "/v1/sandboxes?template=python&limit=2", { token: u.token });
    expect(ids(page1)).toEqual([py3, py2]);
    const page2 = await call(
      t.app,
      "GET",
      `/v1/sandboxes?template=python&limit=2&cursor=${page1.body.next_cursor}`,
      {
        token: u.token,
      },
    );
    expect(ids(page2)).toEqual([py1]);
    expect(page2.body.next_cursor).toBeNull();
    expect(ids(await call(t.app, "GET", "/v1/sandboxes?template=nothing", { token: u.token }))).toEqual([]);
  });

  it("leaves destroyed sandboxes out of a list unless state=stopped asks for them", async () => {
    const u = await signupUser(t.app);
    const live = await insertSandbox(u.team.id, { state: "running" });
    const gone = await insertSandbox(u.team.id, { state: "stopped" });
    const ids = (res: { body: { sandboxes: { id: string }[] } }) => res.body.sandboxes.map((s) => s.id);
    expect(ids(await call(t.app, "GET", "/v1/sandboxes", { token: u.token }))).toEqual([live]);
    expect(ids(await call(t.app, "GET", "/v1/sandboxes?state=stopped", { token: u.token }))).toEqual([gone]);
    expect(ids(await call(t.app, "GET", "/v1/sandboxes?state=running,stopped", { token: u.token }))).toEqual([
      gone,
      live,
    ]);
  });

  it("refuses lifecycle actions in the wrong state with 409", async () => {
    const u = await signupUser(t.app);
    const paused = await insertSandbox(u.team.id, { state: "paused" });
    const running = await insertSandbox(u.team.id, { state: "running" });
    expect((await call(t.app, "POST", `/v1/sandboxes/${paused}/pause`, { token: u.token })).status).toBe(409);
    expect((await call(t.app, "POST", `/v1/sandboxes/${running}/resume`, { token: u.token })).status).toBe(
      409,
    );
    const exec = await call(t.app, "POST", `/v1/sandboxes/${paused}/exec`, {
      token: u.token,
      body: { cmd: "true" },
    });
    expect(exec.status).toBe(409);
    expect(exec.body.message).toBe("cannot run commands in a sandbox that is paused");
    const read = await call(t.app, "POST", `/v1/sandboxes/${paused}/files/read`, {
      token: u.token,
      body: { path: "/a" },
    });
    expect(read.status).toBe(409);
    const form = new FormData();
    form.set("path", "/tmp/x");
    const noFile = await t.app.request(`/v1/sandboxes/${paused}/files/write`, {
      method: "POST",
      body: form,
      headers: { authorization: `Bearer ${u.token}` },
    });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { message: string }).message).toMatch(/file/);
    // Its host is gone (no host_id): the agent cannot be asked.
    expect((await call(t.app, "POST", `/v1/sandboxes/${running}/ping`, { token: u.token })).status).toBe(503);
  });

  it("serves stored metrics while paused, 404 once stopped, 400 for unknown ranges", async () => {
    const u = await signupUser(t.app);
    const paused = await insertSandbox(u.team.id, { state: "paused" });
    const stopped = await insertSandbox(u.team.id, { state: "stopped" });
    const uuid = paused.slice(3);
    await t.db.pool.query(
      `INSERT INTO sandbox_metric_points (sandbox_id, tier, ts, cpu_pct, mem_bytes, disk_bytes) VALUES
       ($1, '10m', now() - interval '2 minutes', 12.5, 1000, 2000),
       ($1, '10m', now() - interval '1 minute', 50, 3000, 4000),
       ($1, '10m', now() - interval '8 minutes', 99, 1, 1),
       ($1, '2h', now() - interval '30 minutes', 7, 5, 6)`,
      [uuid],
    );
    const m5 = await call(t.app, "GET", `/v1/sandboxes/${paused}/metrics?range=5m`, { token: u.token });
    expect(m5.status).toBe(200);
    expect(m5.body.tier).toBe("10m");
    expect(m5.body.points.map((p: { cpu_percent: number }) => p.cpu_percent)).toEqual([12.5, 50]);
    expect(m5.body.points[1]).toMatchObject({ memory_rss_bytes: 3000, disk_bytes: 4000 });
    const m10 = await call(t.app, "GET", `/v1/sandboxes/${paused}/metrics?range=10m`, { token: u.token });
    expect(m10.body.points).toHaveLength(3);
    const h1 = await call(t.app, "GET", `/v1/sandboxes/${paused}/metrics?range=1h`, { token: u.token });
    expect(h1.body).toMatchObject({ tier: "2h", points: [{ cpu_percent: 7 }] });
    expect((await call(t.app, "GET", `/v1/sandboxes/${stopped}/metrics`, { token: u.token })).status).toBe(
      404,
    );
    expect(
      (await call(t.app, "GET", `/v1/sandboxes/${paused}/metrics?range=3d`, { token: u.token })).status,
    ).toBe(400);
    const other = await signupUser(t.app);
    expect((await call(t.app, "GET", `/v1/sandboxes/${paused}/metrics`, { token: other.token })).status).toBe(
      404,
    );
  });

  it("destroys a team's sandboxes when the team is deleted", async () => {
    const u = await signupUser(t.app);
    const team = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "Doomed" } });
    const id = await insertSandbox(team.body.id, { state: "paused" });
    const del = await call(t.app, "DELETE", `/v1/teams/${team.body.id}`, { token: u.token });
    expect(del.status).toBe(204);
    const row = await t.db.pool.query("SELECT state FROM sandboxes WHERE id = $1", [id.slice(3)]);
    expect(row.rows[0].state).toBe("stopped");
  });
});
