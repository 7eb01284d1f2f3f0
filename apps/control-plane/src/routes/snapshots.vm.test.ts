import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { RunningAgent } from "@wrenn/host-agent";
import { call, signupUser, type TestApp } from "@wrenn/testing/app";
import { startTestAppWithHost, type TestAppWithHost } from "@wrenn/testing/app-with-host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Templates end to end on a REAL host agent (in-process, QEMU microVMs, netns networking)
// registered through the real flow and driven only through the REST API.
// Fails (never skips) when QEMU or the guest image is missing.
let h: TestAppWithHost;
let t: TestApp;
let agent: RunningAgent;
let dataDir: string;
let token: string;
let teamUuid: string;
let hostUuid: string;

beforeAll(async () => {
  h = await startTestAppWithHost({ name: "cp-snap-vm" });
  ({ t, agent, dataDir, hostUuid } = h);
  const user = await signupUser(t.app, "User");
  token = user.token;
  teamUuid = user.team.id.slice(5);
});

afterAll(async () => {
  await h?.close();
});

/** What the agent holds on disk for a template of the test team (empty when gone). */
async function templateFiles(templateWireId: string, team = teamUuid): Promise<string[]> {
  const dir = join(dataDir, "templates", "teams", team, templateWireId.slice(4));
  return readdir(dir).catch(() => []);
}

async function createSandbox(template: string, as = token) {
  const res = await call(t.app, "POST", "/v1/sandboxes", { token: as, body: { template, timeout_sec: 0 } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; template: string; vcpus: number; memory_mb: number; state: string };
}

async function sh(id: string, cmd: string) {
  const res = await call(t.app, "POST", `/v1/sandboxes/${id}/exec`, { token, body: { cmd } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { exit_code: number; stdout: string; stderr: string };
}

async function destroy(id: string) {
  expect((await call(t.app, "DELETE", `/v1/sandboxes/${id}`, { token })).status).toBe(204);
}

describe("snapshots on a real host agent", () => {
  let source = "";
  let first = "";
  let second = "";

  it("captures a running sandbox as a template; the source keeps running", async () => {
    source = (await createSandbox("minimal")).id;
    expect((await sh(source, "echo v1 > ~/marker && sync")).exit_code).toBe(0);

    const started = performance.now();
    const snap = await call(t.app, "POST", "/v1/snapshots", {
      token,
      body: { sandbox_id: source, name: "vm-env" },
    });
    const ms = performance.now() - started;
    expect(snap.status, JSON.stringify(snap.body)).toBe(201);
    expect(snap.body).toMatchObject({
      name: "vm-env",
      type: "snapshot",
      platform: false,
      team_id: `team-${teamUuid}`,
      host_id: `host-${hostUuid}`,
    });
    expect(snap.body.id).toMatch(/^tpl-[0-9a-f-]{36}$/);
    expect(snap.body.size_bytes).toBeGreaterThan(0);
    first = snap.body.id;
    process.stderr.write(
      `snapshot of a running sandbox through the REST API (TCG guest): ${ms.toFixed(0)} ms\n`,
    );
    // Files under teams/{team}/{template uuid} on the agent.
    expect((await templateFiles(first)).length).toBeGreaterThan(0);

    const after = await call(t.app, "GET", `/v1/sandboxes/${source}`, { token });
    expect(after.body.state).toBe("running");
    expect((await sh(source, "cat ~/marker")).stdout).toBe("v1\n");

    const list = await call(t.app, "GET", "/v1/snapshots", { token });
    expect(list.body.templates.map((x: { name: string }) => x.name)).toEqual(["minimal", "vm-env"]);
  });

  it("starts a new sandbox from the snapshot by name, with the file and the baked-in size", async () => {
    const tpl = (await call(t.app, "GET", "/v1/snapshots/vm-env", { token })).body;
    const sb = await createSandbox("vm-env");
    expect(sb).toMatchObject({
      template: "vm-env",
      state: "running",
      vcpus: tpl.vcpus,
      memory_mb: tpl.memory_mb,
    });
    expect((await sh(sb.id, "cat ~/marker")).stdout).toBe("v1\n");
    await destroy(sb.id);
  });

  it("overwrites a name: the old files go first, the new template has a new id", async () => {
    expect((await sh(source, "echo v2 > ~/marker && sync")).exit_code).toBe(0);
    const snap = await call(t.app, "POST", "/v1/snapshots", {
      token,
      body: { sandbox_id: source, name: "vm-env" },
    });
    expect(snap.status, JSON.stringify(snap.body)).toBe(201);
    second = snap.body.id;
    expect(second).not.toBe(first);
    expect(await templateFiles(first)).toEqual([]);
    expect((await templateFiles(second)).length).toBeGreaterThan(0);
    expect((await call(t.app, "GET", "/v1/snapshots/vm-env", { token })).body.id).toBe(second);
    const list = await call(t.app, "GET", "/v1/snapshots", { token });
    expect(list.body.templates.filter((x: { name: string }) => x.name === "vm-env")).toHaveLength(1);

    const sb = await createSandbox("vm-env");
    expect((await sh(sb.id, "cat ~/marker")).stdout).toBe("v2\n");
    await destroy(sb.id);
  });

  it("deletes the template on the agent; creating from it is then a clear 404", async () => {
    const del = await call(t.app, "DELETE", "/v1/snapshots/vm-env", { token });
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    expect(await templateFiles(second)).toEqual([]);
    const list = await call(t.app, "GET", "/v1/snapshots", { token });
    expect(list.body.templates.map((x: { name: string }) => x.name)).toEqual(["minimal"]);
    const res = await call(t.app, "POST", "/v1/sandboxes", { token, body: { template: "vm-env" } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: "not_found", message: "template vm-env not found" });

    const audit = await t.db.pool.query(
      "SELECT action, resource_id, status, metadata->>'reason' AS reason FROM audit_logs WHERE resource_type = 'template' ORDER BY created_at",
    );
    expect(audit.rows).toEqual([
      { action: "create", resource_id: first, status: "success", reason: null },
      { action: "delete", resource_id: first, status: "warning", reason: "overwrite" },
      { action: "create", resource_id: second, status: "success", reason: null },
      { action: "delete", resource_id: second, status: "warning", reason: "delete" },
    ]);
  });

  it("flattens a sandbox into an image template (the sandbox is destroyed) that new sandboxes boot from", async () => {
    expect((await sh(source, "echo flat > ~/image-marker && sync")).exit_code).toBe(0);
    const snap = await call(t.app, "POST", "/v1/snapshots", {
      token,
      body: { sandbox_id: source, name: "vm-image", type: "image" },
    });
    expect(snap.status, JSON.stringify(snap.body)).toBe(201);
    expect(snap.body).toMatchObject({ name: "vm-image", type: "image", host_id: `host-${hostUuid}` });
    expect(snap.body.size_bytes).toBeGreaterThan(0);
    expect((await call(t.app, "GET", `/v1/sandboxes/${source}`, { token })).body.state).toBe("stopped");
    expect(agent.manager.list().sandboxes).toEqual([]);

    const sb = await createSandbox("vm-image");
    expect((await sh(sb.id, "cat ~/image-marker")).stdout).toBe("flat\n");
    await destroy(sb.id);
    expect((await call(t.app, "DELETE", "/v1/snapshots/vm-image", { token })).status).toBe(204);
    expect(await templateFiles(snap.body.id)).toEqual([]);
  });

  it("a team's soft delete destroys its sandboxes, then its templates on the host", async () => {
    const other = await signupUser(t.app, "Leaving");
    const otherTeam = other.team.id.slice(5);
    const sb = await createSandbox("minimal", other.token);
    const snap = await call(t.app, "POST", "/v1/snapshots", {
      token: other.token,
      body: { sandbox_id: sb.id, name: "team-env" },
    });
    expect(snap.status, JSON.stringify(snap.body)).toBe(201);
    expect((await templateFiles(snap.body.id, otherTeam)).length).toBeGreaterThan(0);

    const del = await call(t.app, "DELETE", `/v1/teams/${other.team.id}`, { token: other.token });
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    expect(await templateFiles(snap.body.id, otherTeam)).toEqual([]);
    const rows = await t.db.pool.query("SELECT id FROM templates WHERE team_id = $1", [otherTeam]);
    expect(rows.rows).toEqual([]);
    const state = await t.db.pool.query("SELECT state FROM sandboxes WHERE id = $1", [sb.id.slice(3)]);
    expect(state.rows[0].state).toBe("stopped");
    expect(agent.manager.list().sandboxes).toEqual([]);
  });
});
