import { apiCall } from "@wrenn/testing/api";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEncryptionKey } from "../crypto/secret-box.ts";

// An inactivity auto-pause reaches the control plane with the agent's next heartbeat, sent at
// once (the monitor runs once an hour and heartbeats every 30 s here, so nothing else can
// tell it); resume and connect then work on it (real QEMU microVM, real HTTP).
let d: TestDeployment;
// Stands in for a team's webhook endpoint (external services cannot be reached from here).
let receiver: Receiver;
let channelId: string;
const WAIT_MS = 60_000;

function api(method: string, path: string, body?: unknown) {
  return apiCall(d, method, path, body);
}

/** A sandbox the agent auto-paused, once its row says so (checked within a few seconds). */
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
  // The row follows within a heartbeat's round trip, not a monitor or heartbeat interval.
  const pausedBy = Date.now() + 5_000;
  while ((await api("GET", `/v1/sandboxes/${id}`)).body.state !== "paused") {
    if (Date.now() > pausedBy)
      throw new Error(`sandbox ${id} auto-paused, but its row did not follow in 5 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return id;
}

beforeAll(async () => {
  d = await startTestDeployment({
    env: {
      HOST_MONITOR_INTERVAL_SEC: "3600",
      WRENN_ENCRYPTION_KEY: generateEncryptionKey(),
      WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32",
    },
  });
  receiver = await startReceiver();
  const channel = await api("POST", "/v1/channels", {
    name: "auto-pause alerts",
    provider: "webhook",
    config: { url: `${receiver.url}/wrenn`, secret: "vm-test-signing-secret" },
    events: ["sandbox.auto_paused"],
  });
  expect(channel.status, JSON.stringify(channel.body)).toBe(201);
  channelId = channel.body.id;
});

afterAll(async () => {
  if (d) {
    const list = await api("GET", "/v1/sandboxes?limit=100");
    for (const s of (list.body?.sandboxes ?? []) as { id: string }[]) {
      await api("DELETE", `/v1/sandboxes/${s.id}`);
    }
  }
  await d?.close();
  await receiver?.close();
});

describe("a sandbox the agent auto-paused", () => {
  it("is paused for the control plane at once, resumes with its files, and the change is audited", async () => {
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
    // The auto-pause reached the team's channel through the event stream and the dispatcher.
    const [hook] = await receiver.waitFor(1, 15_000);
    expect(hook?.json).toMatchObject({ type: "sandbox.auto_paused", resource: { type: "sandbox", id } });
    expect(hook?.headers["x-wrenn-signature"]).toMatch(/^v1=[0-9a-f]{64}$/);
    // The channel's status is recorded just after the receiver answered.
    const recordedBy = Date.now() + 5_000;
    let channel = await api("GET", `/v1/channels/${channelId}`);
    while (!channel.body.last_delivery && Date.now() < recordedBy) {
      await new Promise((r) => setTimeout(r, 100));
      channel = await api("GET", `/v1/channels/${channelId}`);
    }
    expect(channel.body).toMatchObject({ last_delivery: { status: "delivered" }, consecutive_failures: 0 });
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
