import { apiCall } from "@wrenn/testing/api";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The inactivity timeout end to end over real HTTP: control plane → host agent
// (QEMU microVM) → TTL reaper → host monitor → database. The monitor runs every
// 2 s here so an auto-pause reaches the database quickly; waits poll with bounds.
let d: TestDeployment;
const WAIT_MS = 60_000;

interface SandboxJson {
  id: string;
  state: string;
  timeout_sec: number;
  last_active_at: string | null;
}

function api(method: string, path: string, body?: unknown) {
  return apiCall(d, method, path, body);
}

async function create(timeoutSec: number): Promise<SandboxJson> {
  const res = await api("POST", "/v1/sandboxes", { template: "minimal", timeout_sec: timeoutSec });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function get(id: string): Promise<SandboxJson> {
  const res = await api("GET", `/v1/sandboxes/${id}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function setTimeoutSec(id: string, timeoutSec: number): Promise<SandboxJson> {
  const res = await api("POST", `/v1/sandboxes/${id}/timeout`, { timeout_sec: timeoutSec });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.timeout_sec).toBe(timeoutSec);
  return res.body;
}

/** Polls until the sandbox is paused in the database; fails after {@link WAIT_MS}. */
async function waitPaused(id: string): Promise<SandboxJson> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const s = await get(id);
    if (s.state === "paused") return s;
    if (Date.now() > deadline) throw new Error(`sandbox ${id} still ${s.state} after ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  d = await startTestDeployment({ env: { HOST_MONITOR_INTERVAL_SEC: "2" } });
});

afterAll(async () => {
  if (d) {
    const list = await api("GET", "/v1/sandboxes?limit=100");
    for (const s of (list.body?.sandboxes ?? []) as SandboxJson[]) {
      await api("DELETE", `/v1/sandboxes/${s.id}`);
    }
  }
  await d?.close();
});

describe("inactivity timeout of a running sandbox", () => {
  it("a shortened timeout auto-pauses the running VM, which resumes with its state", async () => {
    const s = await create(600);
    const exec = await api("POST", `/v1/sandboxes/${s.id}/exec`, { cmd: "echo kept > /tmp/mark" });
    expect(exec.body).toMatchObject({ exit_code: 0 });
    await setTimeoutSec(s.id, 5);
    const paused = await waitPaused(s.id);
    expect(paused.timeout_sec).toBe(5);

    const resumed = await api("POST", `/v1/sandboxes/${s.id}/resume`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ state: "running", timeout_sec: 5 });
    // Right after the resume: raise it so the checks below cannot race the 5 s.
    await setTimeoutSec(s.id, 600);
    const cat = await api("POST", `/v1/sandboxes/${s.id}/exec`, { cmd: "cat /tmp/mark" });
    expect(cat.body).toMatchObject({ exit_code: 0, stdout: "kept\n" });

    // E2B's refresh only ever raises the timeout: 30 s leaves 600 alone.
    const refresh = await api("POST", `/e2b/sandboxes/${s.id}/refreshes`, { duration: 30 });
    expect(refresh.status, JSON.stringify(refresh.body)).toBe(204);
    expect((await get(s.id)).timeout_sec).toBe(600);
  });

  it("pings keep a sandbox with a 5 s timeout running; it pauses once they stop", async () => {
    const s = await create(600);
    await setTimeoutSec(s.id, 5);
    let last = (await get(s.id)).last_active_at ?? "";
    // Pinged every second for three times its timeout (plus reaper and monitor intervals).
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const ping = await api("POST", `/v1/sandboxes/${s.id}/ping`);
      expect(ping.status, JSON.stringify(ping.body)).toBe(200);
      expect(ping.body.state).toBe("running");
      expect(Date.parse(ping.body.last_active_at)).toBeGreaterThan(Date.parse(last));
      last = ping.body.last_active_at;
      await sleep(1_000);
    }
    expect((await get(s.id)).state).toBe("running");
    await waitPaused(s.id);
    // Paused: a new timeout is stored for the resume, a ping is refused.
    expect((await setTimeoutSec(s.id, 120)).state).toBe("paused");
    expect((await api("POST", `/v1/sandboxes/${s.id}/ping`)).status).toBe(409);
    const resumed = await api("POST", `/v1/sandboxes/${s.id}/resume`);
    expect(resumed.body).toMatchObject({ state: "running", timeout_sec: 120 });
  });

  it("timeout 0 never pauses, while E2B's /timeout pauses another sandbox", async () => {
    const never = await create(600);
    // Shortened first, so a 0 the agent ignored would leave 5 s and pause it.
    await setTimeoutSec(never.id, 5);
    await setTimeoutSec(never.id, 0);
    const windowEnd = Date.now() + 20_000;

    const e2b = await create(600);
    const res = await api("POST", `/e2b/sandboxes/${e2b.id}/timeout`, { timeout: 5 });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
    expect((await waitPaused(e2b.id)).timeout_sec).toBe(5);

    // A refresh with a longer duration raises a short timeout (the countdown restarts too).
    await api("POST", `/v1/sandboxes/${e2b.id}/resume`);
    const raised = await api("POST", `/e2b/sandboxes/${e2b.id}/refreshes`, { duration: 900 });
    expect(raised.status, JSON.stringify(raised.body)).toBe(204);
    expect((await get(e2b.id)).timeout_sec).toBe(900);

    await sleep(Math.max(0, windowEnd - Date.now()));
    expect(await get(never.id)).toMatchObject({ state: "running", timeout_sec: 0 });
  });

  it("refuses bad timeouts with a 400 and changes nothing", async () => {
    const s = await create(600);
    for (const body of [{ timeout_sec: -1 }, { timeout_sec: 86_401 }, { timeout_sec: 1.5 }, {}]) {
      const res = await api("POST", `/v1/sandboxes/${s.id}/timeout`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("invalid_argument");
    }
    const e2b = await api("POST", `/e2b/sandboxes/${s.id}/refreshes`, { duration: 3601 });
    expect(e2b.status).toBe(400);
    expect((await get(s.id)).timeout_sec).toBe(600);
  });
});
