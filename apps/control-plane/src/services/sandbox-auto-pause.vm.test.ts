import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall } from "../testing-api.ts";
import { startTestDeployment, type TestDeployment } from "../testing-deployment.ts";

// Resume and connect right after an inactivity auto-pause, before the host monitor
// has seen it: the monitor runs once an hour here, so only the services' own check
// against the agent can find the sandbox paused (real QEMU microVM, real HTTP).
let d: TestDeployment;
const WAIT_MS = 60_000;

function api(method: string, path: string, body?: unknown) {
  return apiCall(d, method, path, body);
}

/** A running sandbox whose VM the agent has auto-paused (its row still says running). */
async function autoPausedSandbox(): Promise<string> {
  const created = await api("POST", "/v1/sandboxes", { template: "minimal", timeout_sec: 600 });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id: string = created.body.id;
  const written = await api("POST", `/v1/sandboxes/${id}/exec`, { cmd: "echo kept > /tmp/mark" });
  expect(written.body).toMatchObject({ exit_code: 0 });
  expect((await api("POST", `/v1/sandboxes/${id}/timeout`, { timeout_sec: 3 })).status).toBe(200);
  const deadline = Date.now() + WAIT_MS;
  // Watched through the in-process agent: any API call on the sandbox would count as activity.
  while (!d.agent.manager.list().autoPausedIds.includes(id)) {
    if (Date.now() > deadline) throw new Error(`sandbox ${id} was not auto-paused in ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
  expect((await api("GET", `/v1/sandboxes/${id}`)).body.state).toBe("running");
  return id;
}

beforeAll(async () => {
  d = await startTestDeployment({ env: { HOST_MONITOR_INTERVAL_SEC: "3600" } });
});

afterAll(async () => {
  if (d) {
    const list = await api("GET", "/v1/sandboxes?limit=100");
    for (const s of (list.body?.sandboxes ?? []) as { id: string }[]) {
      await api("DELETE", `/v1/sandboxes/${s.id}`);
    }
  }
  await d?.close();
});

describe("a sandbox auto-paused since the host monitor last looked", () => {
  it("resumes at once with its files, and the row says paused before that", async () => {
    const id = await autoPausedSandbox();
    const resumed = await api("POST", `/v1/sandboxes/${id}/resume`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body.state).toBe("running");
    const read = await api("POST", `/v1/sandboxes/${id}/exec`, { cmd: "cat /tmp/mark" });
    expect(read.body).toMatchObject({ exit_code: 0, stdout: "kept\n" });
    const audit = await fetch(`${d.url}/v1/audit-logs?limit=50`, {
      headers: { authorization: `Bearer ${d.token}` },
    });
    const { items } = (await audit.json()) as { items: { action: string; resource_id: string }[] };
    expect(items.some((e) => e.action === "reconcile_paused" && e.resource_id === id)).toBe(true);
  });

  it("E2B connect resumes it too", async () => {
    const id = await autoPausedSandbox();
    const connected = await api("POST", `/e2b/sandboxes/${id}/connect`, { timeout: 60 });
    expect([200, 201], JSON.stringify(connected.body)).toContain(connected.status);
    const row = await api("GET", `/v1/sandboxes/${id}`);
    expect(row.body.state).toBe("running");
    const read = await api("POST", `/v1/sandboxes/${id}/exec`, { cmd: "cat /tmp/mark" });
    expect(read.body).toMatchObject({ exit_code: 0, stdout: "kept\n" });
  });
});
