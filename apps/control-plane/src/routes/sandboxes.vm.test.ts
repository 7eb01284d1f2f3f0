import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "@wrenn/common";
import type { RunningAgent } from "@wrenn/host-agent";
import { call, signupUser, type TestApp } from "@wrenn/testing/app";
import { startTestAppWithHost, type TestAppWithHost } from "@wrenn/testing/app-with-host";
import { pollUntil } from "@wrenn/testing/poll";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostClientPool } from "../hosts/pool.ts";
import { AuditLogger } from "../services/audit.ts";
import { HostMonitor } from "../services/host-monitor.ts";

// End to end on a REAL host agent (in-process, QEMU microVM, netns networking) reached
// through the real Connect client over h2c, registered through the real registration flow;
// the agent keeps heartbeating (as in production) so the monitor sees the host online.
// Fails (never skips) when QEMU or the guest image is missing: startAgent and the first
// create throw with the reason.
let h: TestAppWithHost;
let t: TestApp;
let agent: RunningAgent;
let pool: HostClientPool;
let log: Logger;
let token: string;
let hostUuid: string;

beforeAll(async () => {
  h = await startTestAppWithHost({ name: "cp-vm" });
  ({ t, agent, pool, log, hostUuid } = h);
  token = (await signupUser(t.app, "User")).token;
});

afterAll(async () => {
  await h?.close();
});

describe("sandboxes on a real host agent", () => {
  let id = "";

  it("creates a sandbox on the registered host and runs commands in it", async () => {
    const created = await call(t.app, "POST", "/v1/sandboxes", {
      token,
      body: {
        template: "minimal",
        timeout_sec: 0,
        metadata: { purpose: "vm-test" },
        envs: { GREETING: "hi" },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      state: "running",
      template: "minimal",
      host_id: `host-${hostUuid}`,
      timeout_sec: 0,
      metadata: { purpose: "vm-test" },
    });
    expect(created.body.id).toMatch(/^sb-[0-9a-f-]{36}$/);
    expect(created.body.envd_access_token).toBeTruthy();
    id = created.body.id;

    const shell = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token,
      body: { cmd: "echo $GREETING $FOO; pwd; echo oops >&2; exit 3", envs: { FOO: "there" }, cwd: "/tmp" },
    });
    expect(shell.status, JSON.stringify(shell.body)).toBe(200);
    expect(shell.body).toEqual({
      pid: expect.any(Number),
      exit_code: 3,
      stdout: "hi there\n/tmp\n",
      stderr: "oops\n",
      timed_out: false,
    });

    const argv = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token,
      body: { cmd: "/bin/echo", args: ["a  b", "$HOME"] },
    });
    expect(argv.body).toMatchObject({ exit_code: 0, stdout: "a  b $HOME\n" });

    const slow = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token,
      body: { cmd: "echo started; sleep 30", timeout_sec: 2 },
    });
    expect(slow.body).toMatchObject({ exit_code: null, timed_out: true });
  });

  it("writes (multipart, over the JSON body limit), reads, lists, makes and removes files", async () => {
    const content = randomBytes(3 * 1024 * 1024); // larger than the 1 MiB JSON body limit
    const form = new FormData();
    form.set("path", "/tmp/up/data.bin");
    form.set("file", new Blob([content]), "data.bin");
    const written = await t.app.request(`/v1/sandboxes/${id}/files/write`, {
      method: "POST",
      body: form,
      headers: { authorization: `Bearer ${token}` },
    });
    const entry = await written.json();
    expect(written.status, JSON.stringify(entry)).toBe(200);
    expect(entry).toMatchObject({
      name: "data.bin",
      path: "/tmp/up/data.bin",
      type: "file",
      size: content.length,
    });

    const read = await t.app.request(`/v1/sandboxes/${id}/files/read`, {
      method: "POST",
      body: JSON.stringify({ path: "/tmp/up/data.bin" }),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get("content-length")).toBe(String(content.length));
    const back = Buffer.from(await read.arrayBuffer());
    expect(createHash("sha256").update(back).digest("hex")).toBe(
      createHash("sha256").update(content).digest("hex"),
    );

    const dir = await call(t.app, "POST", `/v1/sandboxes/${id}/files/mkdir`, {
      token,
      body: { path: "/tmp/up/sub/deep" },
    });
    expect(dir.body).toMatchObject({ type: "dir", path: "/tmp/up/sub/deep" });
    const list = await call(t.app, "POST", `/v1/sandboxes/${id}/files/list`, {
      token,
      body: { path: "/tmp/up" },
    });
    expect(list.body.entries.map((e: { name: string }) => e.name).sort()).toEqual(["data.bin", "sub"]);
    const removed = await call(t.app, "POST", `/v1/sandboxes/${id}/files/remove`, {
      token,
      body: { path: "/tmp/up/sub" },
    });
    expect(removed.status).toBe(204);
    const missing = await call(t.app, "POST", `/v1/sandboxes/${id}/files/read`, {
      token,
      body: { path: "/tmp/up/sub/x" },
    });
    expect(missing.status).toBe(404);
    const isDir = await call(t.app, "POST", `/v1/sandboxes/${id}/files/read`, {
      token,
      body: { path: "/tmp/up" },
    });
    expect(isDir.status).toBe(400);
  });

  it("streams a large file in and out with matching checksums", async () => {
    const size = 32 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const sent = createHash("sha256");
    let produced = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (produced >= size) return controller.close();
        const piece = Buffer.from(chunk.map((b) => b ^ (produced >> 20)));
        sent.update(piece);
        produced += piece.length;
        controller.enqueue(piece);
      },
    });
    const upStart = performance.now();
    const up = await t.app.request(`/v1/sandboxes/${id}/files/stream/write?path=/tmp/big.bin`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      duplex: "half",
    } as RequestInit);
    const upMs = performance.now() - upStart;
    const entry = await up.json();
    expect(up.status, JSON.stringify(entry)).toBe(200);
    expect(entry).toMatchObject({ path: "/tmp/big.bin", size });

    const downStart = performance.now();
    const down = await t.app.request(`/v1/sandboxes/${id}/files/stream/read`, {
      method: "POST",
      body: JSON.stringify({ path: "/tmp/big.bin" }),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    });
    expect(down.status).toBe(200);
    const received = createHash("sha256");
    let got = 0;
    for await (const piece of down.body as unknown as AsyncIterable<Uint8Array>) {
      received.update(piece);
      got += piece.length;
    }
    const downMs = performance.now() - downStart;
    expect(got).toBe(size);
    expect(received.digest("hex")).toBe(sent.digest("hex"));
    process.stderr.write(
      `files through the control plane (TCG guest): up ${(size / 2 ** 20 / (upMs / 1000)).toFixed(1)} MB/s, down ${(size / 2 ** 20 / (downMs / 1000)).toFixed(1)} MB/s\n`,
    );
    await call(t.app, "POST", `/v1/sandboxes/${id}/files/remove`, { token, body: { path: "/tmp/big.bin" } });
  });

  it("starts a background process, lists it and kills it by tag", async () => {
    const started = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token,
      body: { cmd: "sleep 300", background: true, tag: "sleeper" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body.pid).toBeGreaterThan(0);
    const listed = await call(t.app, "GET", `/v1/sandboxes/${id}/processes`, { token });
    expect(listed.body.processes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pid: started.body.pid, tag: "sleeper", pty: false }),
      ]),
    );
    const killed = await call(t.app, "DELETE", `/v1/sandboxes/${id}/processes/sleeper`, { token });
    expect(killed.status, JSON.stringify(killed.body)).toBe(204);
    const tags = await pollUntil(
      "the killed process gone from the listing",
      async () =>
        (await call(t.app, "GET", `/v1/sandboxes/${id}/processes`, { token })).body.processes.map(
          (p: { tag: string | null }) => p.tag,
        ) as (string | null)[],
      (now) => !now.includes("sleeper"),
    );
    expect(tags).not.toContain("sleeper");
    expect((await call(t.app, "DELETE", `/v1/sandboxes/${id}/processes/sleeper`, { token })).status).toBe(
      404,
    );
  });

  it("pings, pauses (exec refused), resumes with its files kept", async () => {
    const write = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token,
      body: { cmd: "echo kept > ~/marker" },
    });
    expect(write.body).toMatchObject({ exit_code: 0 });
    const before = await call(t.app, "GET", `/v1/sandboxes/${id}`, { token });
    const ping = await call(t.app, "POST", `/v1/sandboxes/${id}/ping`, { token });
    expect(ping.status).toBe(200);
    expect(Date.parse(ping.body.last_active_at)).toBeGreaterThanOrEqual(
      Date.parse(before.body.last_active_at),
    );

    const live = await call(t.app, "GET", `/v1/sandboxes/${id}/metrics?range=10m`, { token });
    expect(live.status, JSON.stringify(live.body)).toBe(200);
    expect(live.body.points.length).toBeGreaterThan(0);
    expect(live.body.points.at(-1).memory_rss_bytes).toBeGreaterThan(0);

    const paused = await call(t.app, "POST", `/v1/sandboxes/${id}/pause`, { token });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.state).toBe("paused");
    // The agent's samples were flushed to PostgreSQL before the pause.
    const stored = await call(t.app, "GET", `/v1/sandboxes/${id}/metrics?range=10m`, { token });
    expect(stored.status).toBe(200);
    expect(stored.body.points.length).toBeGreaterThanOrEqual(live.body.points.length);
    const refused = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, { token, body: { cmd: "true" } });
    expect(refused.status).toBe(409);

    const resumed = await call(t.app, "POST", `/v1/sandboxes/${id}/resume`, { token });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body.state).toBe("running");
    const cat = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, {
      token,
      body: { cmd: "cat ~/marker" },
    });
    expect(cat.body).toMatchObject({ exit_code: 0, stdout: "kept\n" });
  });

  it("reconciles: a sandbox marked missing that the agent still runs comes back running", async () => {
    await t.db.pool.query("UPDATE sandboxes SET state = 'missing' WHERE id = $1", [id.slice(3)]);
    const monitor = new HostMonitor({ db: t.db.db, pool, audit: new AuditLogger(t.db.db, log), log });
    const report = await monitor.tick();
    const mine = report.reconciled.find((r) => r.hostId === hostUuid);
    expect(mine?.actions).toEqual([{ kind: "restore", id: id.slice(3), from: "missing" }]);
    expect((await call(t.app, "GET", `/v1/sandboxes/${id}`, { token })).body.state).toBe("running");
  });

  it("deletes the sandbox on the agent and keeps the record as stopped", async () => {
    const del = await call(t.app, "DELETE", `/v1/sandboxes/${id}`, { token });
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    expect((await call(t.app, "GET", `/v1/sandboxes/${id}`, { token })).body.state).toBe("stopped");
    expect(agent.manager.list().sandboxes).toEqual([]);
    const audit = await t.db.pool.query(
      "SELECT action, status, actor_type FROM audit_logs WHERE resource_type = 'sandbox' AND resource_id = $1 ORDER BY created_at",
      [id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual([
      "create",
      "pause",
      "resume",
      "reconcile_running",
      "destroy",
    ]);
    expect(audit.rows.find((r) => r.action === "reconcile_running")?.actor_type).toBe("system");
    expect((await call(t.app, "DELETE", `/v1/sandboxes/${id}`, { token })).status).toBe(204);
  });
});

describe("sandbox create when its success cannot be recorded", () => {
  it("destroys the VM at once and leaves the row in error (not running, not starting)", async () => {
    // The database refuses the `running` update (a real failure, from a real trigger).
    await t.db.pool.query(`CREATE FUNCTION refuse_running() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.state = 'running' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$`);
    await t.db.pool.query(
      "CREATE TRIGGER refuse_running BEFORE UPDATE ON sandboxes FOR EACH ROW EXECUTE FUNCTION refuse_running()",
    );
    try {
      const res = await call(t.app, "POST", "/v1/sandboxes", { token, body: { timeout_sec: 0 } });
      expect(res.status, JSON.stringify(res.body)).toBe(500);
      expect(res.body).toEqual({ code: "internal", message: "internal error" });
    } finally {
      await t.db.pool.query("DROP TRIGGER refuse_running ON sandboxes; DROP FUNCTION refuse_running()");
    }
    // The agent created the VM, then was told to destroy it before the answer: nothing runs.
    expect(agent.manager.list().sandboxes).toEqual([]);
    const rows = await t.db.pool.query(
      "SELECT state FROM sandboxes WHERE state NOT IN ('stopped') ORDER BY created_at DESC LIMIT 1",
    );
    expect(rows.rows).toEqual([{ state: "error" }]);
  });
});
