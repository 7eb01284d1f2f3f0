import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { registerHost, signupAdmin } from "@wrenn/testing/hosts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Build API on real PostgreSQL and Redis (BullMQ). No host is registered, so builds that a
// worker takes fail with "no host is online" — the VM test (builds.vm.test.ts) runs real ones.
let t: TestApp;
let owner: Awaited<ReturnType<typeof signupUser>>;
let other: Awaited<ReturnType<typeof signupUser>>;

beforeAll(async () => {
  t = await createTestApp();
  owner = await signupUser(t.app, "Owner");
  other = await signupUser(t.app, "Other");
});

afterAll(async () => {
  await t?.app.builds.close();
  await t?.cleanup();
});

/** `POST /v1/builds` as `token` (default: the owner's). */
function submit(body: Record<string, unknown>, token = owner.token) {
  return call(t.app, "POST", "/v1/builds", { token, body });
}

/** Polls a build until `done(status)` or the deadline. */
async function waitFor(id: string, token: string, done: (status: string) => boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await call(t.app, "GET", `/v1/builds/${id}`, { token });
    if (done(res.body.status) || Date.now() > deadline) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("build submission", () => {
  it("refuses a bad recipe with the line, and queues nothing", async () => {
    const res = await submit({ name: "bad", recipe: "RUN true\n# ok\nFETCH x\n" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^recipe line 3: unknown instruction FETCH/),
    });
    const list = await call(t.app, "GET", "/v1/builds", { token: owner.token });
    expect(list.body.builds).toEqual([]);
  });

  it("refuses an unsupported Dockerfile instruction naming the line", async () => {
    const res = await submit({ name: "df", dockerfile: 'FROM minimal\nRUN true\nSHELL ["/bin/bash"]\n' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("dockerfile line 3: unsupported Dockerfile instruction SHELL");
  });

  it("refuses a COPY of a file the context lacks, an unknown base and bad shapes", async () => {
    const copy = await submit({
      name: "c",
      recipe: "COPY app.py /app/app.py",
      files: [{ path: "other.py", content: "eA==" }],
    });
    expect(copy.status).toBe(400);
    expect(copy.body.message).toMatch(/line 1: COPY source app.py is not in the uploaded build context/);
    const base = await submit({ name: "c", dockerfile: "FROM nowhere\nRUN true" });
    expect(base.status).toBe(404);
    const shape = await submit({ name: "c", recipe: "RUN true", memory_mb: 1 });
    expect(shape.status).toBe(400);
    expect(shape.body.message).toMatch(/memory_mb/);
    const both = await submit({ name: "c", recipe: "RUN true", dockerfile: "FROM minimal" });
    expect(both.status).toBe(400);
    const name = await submit({ name: "../x", recipe: "RUN true" });
    expect(name.status).toBe(400);
    const minimal = await submit({ name: "minimal", recipe: "RUN true" });
    expect(minimal.status).toBe(403);
  });
});

describe("queue, cancel and team isolation", () => {
  let queued = "";

  it("queues a build (API key), visible to its team only", async () => {
    const key = await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "ci" } });
    const res = await call(t.app, "POST", "/v1/builds", {
      apiKey: key.body.key,
      body: {
        name: "queued-env",
        steps: [
          { type: "env", envs: { A: "1" } },
          { type: "run", command: "echo hi" },
        ],
        start_cmd: "sleep 1000",
        skip_pre_post: true,
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({
      name: "queued-env",
      status: "queued",
      source: "steps",
      base_template: "minimal",
      total_steps: 2,
      current_step: 0,
      start_cmd: "sleep 1000",
      platform: false,
      steps: [
        { index: 1, description: 'ENV A="1"', status: "pending" },
        { index: 2, description: "RUN echo hi", status: "pending" },
      ],
    });
    expect(res.body.id).toMatch(/^bld-[0-9a-f-]{36}$/);
    queued = res.body.id;

    expect((await call(t.app, "GET", `/v1/builds/${queued}`, { token: owner.token })).status).toBe(200);
    expect((await call(t.app, "GET", `/v1/builds/${queued}`, { token: other.token })).status).toBe(404);
    expect((await call(t.app, "GET", `/v1/builds/${queued}/logs`, { token: other.token })).status).toBe(404);
    expect((await call(t.app, "POST", `/v1/builds/${queued}/cancel`, { token: other.token })).status).toBe(
      404,
    );
    expect((await call(t.app, "GET", "/v1/builds", { token: other.token })).body.builds).toEqual([]);
  });

  it("cancels a queued build, which then never starts", async () => {
    const res = await call(t.app, "POST", `/v1/builds/${queued}/cancel`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "cancelled", started_at: null });
    expect(res.body.completed_at).not.toBeNull();
    const again = await call(t.app, "POST", `/v1/builds/${queued}/cancel`, { token: owner.token });
    expect(again.status).toBe(409);

    // A build whose process died mid-way: its row says building while its job is still queued
    // (what BullMQ's stalled check hands to the next worker). It is failed, not resumed.
    const orphan = await submit({ name: "orphan", recipe: "RUN true", skip_pre_post: true });
    await t.db.pool.query(
      "UPDATE template_builds SET status = 'building', started_at = now() WHERE id = $1",
      [orphan.body.id.slice(4)],
    );

    // Workers now run: a second build is taken (and fails: no host), the cancelled one stays untouched.
    await t.app.builds.start();
    const interrupted = await waitFor(orphan.body.id, owner.token, (s) => s === "error");
    expect(interrupted.error).toMatch(
      /the control plane stopped during this build; it was failed \(not resumed\)/,
    );
    const next = await submit({ name: "no-host", recipe: "RUN echo hi", skip_pre_post: true });
    const failed = await waitFor(next.body.id, owner.token, (s) => s === "error");
    expect(failed).toMatchObject({ status: "error", error: "no host is online to run the build" });
    const logs = await call(t.app, "GET", `/v1/builds/${next.body.id}/logs`, { token: owner.token });
    expect(logs.body.status).toBe("error");
    expect(logs.body.logs.map((l: { message: string }) => l.message).join("\n")).toMatch(
      /build failed: no host is online/,
    );
    const cancelled = await call(t.app, "GET", `/v1/builds/${queued}`, { token: owner.token });
    expect(cancelled.body).toMatchObject({ status: "cancelled", started_at: null });

    const audit = await call(t.app, "GET", "/v1/audit-logs?resource_type=build", { token: owner.token });
    const actions = audit.body.items.map((l: { action: string }) => l.action);
    expect(actions).toEqual(
      expect.arrayContaining(["build.requested", "build.cancelled", "build.started", "build.failed"]),
    );
  });

  it("streams a build's log and status as Server-Sent Events until it ends", async () => {
    const list = await call(t.app, "GET", "/v1/builds?status=error", { token: owner.token });
    const id = list.body.builds[0].id;
    const res = await t.app.request(`/v1/builds/${id}/events`, {
      headers: { authorization: `Bearer ${owner.token}` },
    });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const text = await res.text();
    expect(text).toMatch(/event: log\ndata: .*"stream":"system"/);
    expect(text).toMatch(/event: status\ndata: .*"status":"error"/);
    expect(text).toMatch(/event: end\ndata: \{"status":"error"\}/);
  });
});

describe("uploads and platform builds", () => {
  it("takes a multipart upload: spec JSON plus context files", async () => {
    const form = new FormData();
    form.set(
      "spec",
      JSON.stringify({ name: "multi", recipe: "COPY app/ /srv/app/\nCOPY notes.txt /srv/notes.txt" }),
    );
    form.append("file", new File(["print('x')"], "app/main.py"));
    form.append("file", new File(["notes"], "notes.txt"));
    const res = await t.app.request("/v1/builds", {
      method: "POST",
      headers: { authorization: `Bearer ${other.token}` },
      body: form,
    });
    const body = (await res.json()) as { id: string; total_steps: number };
    expect(res.status, JSON.stringify(body)).toBe(202);
    expect(body.total_steps).toBe(4); // apt pre step + 2 COPY + apt post step
    await call(t.app, "POST", `/v1/builds/${body.id}/cancel`, { token: other.token });
  });

  it("takes build contexts beyond the global body limit (JSON, base64), up to its own", async () => {
    const big = Buffer.alloc(1536 * 1024, 7).toString("base64"); // 1.5 MiB > MAX_BODY_BYTES (1 MiB)
    const res = await submit(
      { name: "big", recipe: "COPY blob /blob", files: [{ path: "blob", content: big }] },
      other.token,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await call(t.app, "POST", `/v1/builds/${res.body.id}/cancel`, { token: other.token });
  });

  it("keeps /v1/admin/builds to platform admins; admin builds are platform builds", async () => {
    expect((await call(t.app, "GET", "/v1/admin/builds", { token: owner.token })).status).toBe(403);
    const admin = await signupAdmin(t);
    const res = await call(t.app, "POST", "/v1/admin/builds", {
      token: admin.token,
      body: { name: "platform-env", recipe: "RUN true", skip_pre_post: true },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ platform: true, team_id: "team-00000000-0000-0000-0000-000000000000" });
    const all = await call(t.app, "GET", "/v1/admin/builds", { token: admin.token });
    expect(all.body.builds.map((b: { name: string }) => b.name)).toEqual(
      expect.arrayContaining(["platform-env", "no-host", "queued-env", "multi", "orphan"]),
    );
    // Teams still see only their own.
    const mine = await call(t.app, "GET", "/v1/builds", { token: other.token });
    expect(mine.body.builds.map((b: { name: string }) => b.name)).toEqual(["big", "multi"]);
  });

  it("fails a build whose host does not answer, naming the host", async () => {
    const admin = await signupAdmin(t, "Host admin");
    // Port 9 on loopback: nothing listens, so the agent call is refused.
    const host = await registerHost(t, admin.token, "127.0.0.1:9");
    const res = await submit({ name: "dead-host", recipe: "RUN true", skip_pre_post: true });
    const failed = await waitFor(res.body.id, owner.token, (s) => s === "error");
    expect(failed.error).toBe(
      `host ${host.wire} failed during the build (host agent unavailable while trying to start the build sandbox)`,
    );
  });
});
