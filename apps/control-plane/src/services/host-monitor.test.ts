import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { freePort } from "@wrenn/db";
import { type AgentServer, startAgentServer } from "@wrenn/host-agent";
import { call, createTestApp, type TestApp } from "@wrenn/testing/app";
import { registerHost, signupAdmin, vmlessAgentParts } from "@wrenn/testing/hosts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostClientPool } from "../hosts/pool.ts";
import { AuditLogger } from "./audit.ts";
import { HostMonitor } from "./host-monitor.ts";

// A real host agent RPC server with a real (empty) sandbox manager: ListSandboxes
// works without starting a VM. Reconciling live VMs is covered by sandboxes.vm.test.ts.
let t: TestApp;
let agent: AgentServer;
let agentDir: string;
let adminToken: string;
let teamUuid: string;
const log = createLogger("monitor-test", "silent");

beforeAll(async () => {
  t = await createTestApp();
  agentDir = await mkdtemp(join(tmpdir(), "wrenn-monitor-agent-"));
  const { manager, templates } = await vmlessAgentParts(agentDir, log);
  agent = await startAgentServer({ manager, templates, logger: log }, { host: "127.0.0.1", port: 0 });
  const admin = await signupAdmin(t);
  adminToken = admin.token;
  teamUuid = admin.team.id.slice(5);
});
afterAll(async () => {
  await agent?.close();
  await t?.cleanup();
  if (agentDir) await rm(agentDir, { recursive: true, force: true });
});

function registered(address: string) {
  return registerHost(t, adminToken, address);
}

async function insertSandbox(hostUuid: string, state: string, minutesAgo = 10): Promise<string> {
  const r = await t.db.pool.query(
    `INSERT INTO sandboxes (team_id, host_id, state, last_updated) VALUES ($1, $2, $3, now() - make_interval(mins => $4)) RETURNING id`,
    [teamUuid, hostUuid, state, minutesAgo],
  );
  return r.rows[0].id;
}

const stateOf = async (id: string) =>
  (await t.db.pool.query("SELECT state FROM sandboxes WHERE id = $1", [id])).rows[0].state as string;
const hostStatus = async (id: string) =>
  (await t.db.pool.query("SELECT status FROM hosts WHERE id = $1", [id])).rows[0].status as string;

describe("HostMonitor", () => {
  it("marks a host silent for 90 s unreachable and its sandboxes missing; a heartbeat reverses it", async () => {
    // Nothing listens at this address, so reconciliation of this host fails and changes nothing.
    const host = await registered(`127.0.0.1:${await freePort()}`);
    const running = await insertSandbox(host.uuid, "running");
    const paused = await insertSandbox(host.uuid, "paused");
    let now = new Date();
    const monitor = new HostMonitor({
      db: t.db.db,
      pool: new HostClientPool(),
      audit: new AuditLogger(t.db.db, log),
      log,
      now: () => now,
    });
    const early = await monitor.tick();
    expect(early.unreachable).toEqual([]);
    expect(early.failed).toContain(host.uuid);

    now = new Date(Date.now() + 91_000);
    const late = await monitor.tick();
    expect(late.unreachable).toEqual([{ hostId: host.uuid, missing: [running] }]);
    expect(await hostStatus(host.uuid)).toBe("unreachable");
    expect(await stateOf(running)).toBe("missing");
    expect(await stateOf(paused)).toBe("paused");
    const audit = await t.db.pool.query(
      "SELECT action FROM audit_logs WHERE resource_id = $1 AND action = 'unreachable'",
      [host.wire],
    );
    expect(audit.rows).toHaveLength(1);

    const beat = await call(t.app, "POST", `/v1/hosts/${host.wire}/heartbeat`, {
      headers: { "x-host-token": host.token },
    });
    expect(beat.status).toBe(204);
    expect(await hostStatus(host.uuid)).toBe("online");
  });

  it("reconciles an online host through its real agent: sandboxes it has no trace of are lost", async () => {
    const host = await registered(`127.0.0.1:${agent.port}`);
    const lost = await insertSandbox(host.uuid, "running");
    const missing = await insertSandbox(host.uuid, "missing");
    const recent = await insertSandbox(host.uuid, "running", 0);
    const paused = await insertSandbox(host.uuid, "paused");
    const monitor = new HostMonitor({
      db: t.db.db,
      pool: new HostClientPool(),
      audit: new AuditLogger(t.db.db, log),
      log,
    });
    const report = await monitor.tick();
    const mine = report.reconciled.find((r) => r.hostId === host.uuid);
    expect(mine?.actions).toEqual(
      expect.arrayContaining([
        { kind: "mark_lost", id: lost, from: "running" },
        { kind: "mark_lost", id: missing, from: "missing" },
      ]),
    );
    expect(mine?.actions).toHaveLength(2);
    expect(await stateOf(lost)).toBe("stopped");
    expect(await stateOf(missing)).toBe("stopped");
    expect(await stateOf(recent)).toBe("running");
    expect(await stateOf(paused)).toBe("paused");
  });
});
