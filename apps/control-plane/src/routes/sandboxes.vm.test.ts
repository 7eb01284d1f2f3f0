import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import {
  connectToControlPlane,
  type HostSession,
  loadConfig,
  type RunningAgent,
  startAgent,
} from "@wrenn/host-agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostMonitor } from "../hosts/monitor.ts";
import { HostClientPool } from "../hosts/pool.ts";
import { AuditLogger } from "../services/audit.ts";
import { call, createTestApp, signupUser, type TestApp } from "../testing.ts";

// End to end on a REAL host agent (in-process, QEMU microVM, user-mode networking)
// reached through the real Connect client over h2c, registered through the real
// registration flow. Fails (never skips) when QEMU or the guest image is missing:
// startAgent and the first create throw with the reason.
let t: TestApp;
let agent: RunningAgent;
let dataDir: string;
let token: string;
let hostUuid: string;
// The agent keeps heartbeating (as in production) so the monitor sees the host online.
let session: HostSession | undefined;
const pool = new HostClientPool();
const log = createLogger("sandboxes-vm-test", process.env.TEST_LOG_LEVEL ?? "silent");

beforeAll(async () => {
  t = await createTestApp({ deps: { hostPool: pool } });
  dataDir = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-cp-vm-"));
  const config = loadConfig(["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--network", "user"], {
    WRENN_DATA_DIR: process.env.WRENN_DATA_DIR || "/var/lib/wrenn",
    ...(process.env.WRENN_ACCEL ? { WRENN_ACCEL: process.env.WRENN_ACCEL } : {}),
  });
  agent = await startAgent(config, log);

  const admin = await signupUser(t.app, "Admin");
  await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [admin.user.id.slice(4)]);
  const created = await call(t.app, "POST", "/v1/hosts", { token: admin.token, body: { type: "regular" } });
  session = await connectToControlPlane({
    credentialsPath: join(dataDir, "host-credentials.json"),
    dataDir,
    controlPlaneUrl: "http://control-plane.test",
    registrationToken: created.body.registration_token,
    address: `127.0.0.1:${agent.server.port}`,
    logger: log,
    onRevoked: async () => {},
    // The agent's HTTP calls go straight into the app (same handlers as over a socket).
    fetch: (url, init) => Promise.resolve(t.app.request(url, init)),
  });
  hostUuid = session.credentials.hostId.slice(5);
  token = (await signupUser(t.app, "User")).token;
});

afterAll(async () => {
  await session?.stop();
  await agent?.close();
  await t?.cleanup();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
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

    const paused = await call(t.app, "POST", `/v1/sandboxes/${id}/pause`, { token });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.state).toBe("paused");
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
    expect((await call(t.app, "DELETE", `/v1/sandboxes/${id}`, { token })).status).toBe(204);
  });
});
