import { createLogger } from "@wrenn/common";
import { apiCall, apiFetch } from "@wrenn/testing/api";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type RunningControlPlane, startControlPlane } from "../server.ts";
import { type PeriodicJob, periodicJobs } from "./job-lease.ts";

// Two control-plane processes' worth of servers (each with its own PostgreSQL pool, Redis
// connection, periodic jobs and HTTP server) on one PostgreSQL and one Redis, one real host agent
// and a real microVM. CP-A is the deployment's own control plane (the agent registered and
// heartbeats there); CP-B is started beside it. A real deployment points the agent and clients
// at a load balancer; here the test plays the balancer by choosing a URL per request.
let d: TestDeployment;
let b: RunningControlPlane;
let redis: Redis;
let sandboxId: string;

const b64 = (s: string) => Buffer.from(s).toString("base64");

beforeAll(async () => {
  // A private redis-server: the lease keys this test reads are not shared with other runs.
  const previous = process.env.TEST_REDIS_URL;
  process.env.TEST_REDIS_URL = "spawn";
  try {
    d = await startTestDeployment({
      env: { HOST_MONITOR_INTERVAL_SEC: "1", STATS_SAMPLE_INTERVAL_SEC: "1" },
    });
  } finally {
    if (previous === undefined) delete process.env.TEST_REDIS_URL;
    else process.env.TEST_REDIS_URL = previous;
  }
  b = await startControlPlane({
    config: { ...d.config, port: 0 },
    log: createLogger("control-plane-b", process.env.TEST_LOG_LEVEL ?? "silent"),
    databaseUrl: d.database.url,
    redisUrl: d.config.redisUrl,
  });
  redis = new Redis(d.config.redisUrl);
  const created = await apiCall(d, "POST", "/v1/sandboxes", { timeout_sec: 0 });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  sandboxId = created.body.id;
});

afterAll(async () => {
  if (b && sandboxId) await apiFetch(viaB(), "DELETE", `/v1/sandboxes/${sandboxId}`).catch(() => {});
  redis?.disconnect();
  await b?.close();
  await d?.close();
});

/** The team's API target on CP-B. */
function viaB() {
  return { url: b.url, apiKey: d.apiKey };
}

/** Holder and fencing token of every periodic job's lease, as Redis has them now. */
async function leases(): Promise<Record<PeriodicJob, { holder: string | null; fence: string | null }>> {
  const out = {} as Record<PeriodicJob, { holder: string | null; fence: string | null }>;
  for (const job of periodicJobs) {
    const [holder, fence] = await redis.mget(`wrenn:lease:${job}`, `wrenn:lease:${job}:fence`);
    out[job] = { holder: holder ?? null, fence: fence ?? null };
  }
  return out;
}

/**
 * Resolves once the holder of `job`'s lease has renewed it `count` times (its time to live went
 * up), i.e. that many of the job's intervals passed with both control planes running.
 */
async function leaseRenewals(job: PeriodicJob, count: number): Promise<void> {
  let last = await redis.pttl(`wrenn:lease:${job}`);
  let renewals = 0;
  await waitUntil(`${count} renewals of the ${job} lease`, async () => {
    const ttl = await redis.pttl(`wrenn:lease:${job}`);
    if (ttl > last) renewals++;
    last = ttl;
    return renewals >= count ? true : undefined;
  });
}

async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function execVia(url: string, cmd: string, background = false) {
  const res = await apiCall({ url, apiKey: d.apiKey }, "POST", `/v1/sandboxes/${sandboxId}/exec`, {
    cmd,
    background,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { exit_code: number | null; stdout: string; stderr: string };
}

/** A GET of the guest's port 8000 through `url`'s port proxy (header form), polled until it answers. */
async function proxiedVia(url: string): Promise<string> {
  return waitUntil(`port 8000 through ${url}`, async () => {
    const res = await fetch(`${url}/index.html`, {
      headers: { "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": "8000", "x-api-key": d.apiKey },
    });
    const text = await res.text();
    return res.status === 200 ? text : undefined;
  });
}

/** Opens a PTY on `wsUrl` with a `?ticket=` minted on `mintOn`, runs `echo <word>`, answers the output. */
async function ptyEcho(mintOn: string, wsUrl: string, word: string): Promise<string> {
  const minted = await fetch(`${mintOn}/v1/ws-tickets`, {
    method: "POST",
    headers: { authorization: `Bearer ${d.token}`, "content-type": "application/json" },
    body: JSON.stringify({ sandbox_id: sandboxId }),
  });
  const { ticket } = (await minted.json()) as { ticket: string };
  expect(minted.status).toBe(201);
  const ws = new WebSocket(`${wsUrl.replace(/^http/, "ws")}/v1/sandboxes/${sandboxId}/pty?ticket=${ticket}`);
  let output = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${word}" in the terminal: ${output}`)), 60_000);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
      ws.once("open", () => ws.send(JSON.stringify({ type: "start", cols: 80, rows: 24 })));
      ws.on("message", (data) => {
        const m = JSON.parse(String(data)) as { type: string; data?: string };
        if (m.type === "started") ws.send(JSON.stringify({ type: "input", data: b64(`echo ${word}\r`) }));
        if (m.type === "output") output += Buffer.from(String(m.data), "base64").toString("utf8");
        if (new RegExp(`[\\r\\n]${word}\\r?\\n`).test(output)) {
          clearTimeout(timer);
          ws.send(JSON.stringify({ type: "kill" }));
          resolve(output);
        }
      });
    });
  } finally {
    ws.close();
  }
}

describe("two control planes, one host agent, a real microVM", () => {
  it("serve one sandbox through either, run periodic jobs once, and survive losing one", async () => {
    // Created through CP-A; exec, a PTY with a ticket minted on A, and the port proxy through B.
    expect((await execVia(b.url, "echo via-b")).stdout).toBe("via-b\n");
    await execVia(b.url, "mkdir -p /tmp/www && echo hello-through-b > /tmp/www/index.html");
    await execVia(b.url, "cd /tmp/www && exec python3 -m http.server 8000", true);
    expect(await proxiedVia(b.url)).toBe("hello-through-b\n");
    await ptyEcho(d.url, b.url, "pty-a-to-b");
    // The ticket was used once: on B. Minting on B and opening on A works the same way.
    await ptyEcho(b.url, d.url, "pty-b-to-a");

    // Each periodic job's lease has one holder, and it stays put while both run (a takeover would
    // bump the fence). A started first, so A holds them all.
    const first = await waitUntil("every job lease taken", async () => {
      const now = await leases();
      return periodicJobs.every((j) => now[j].holder) ? now : undefined;
    });
    await leaseRenewals("host-monitor", 3); // three of its passes, each a chance for B to take it
    expect(await leases()).toEqual(first);
    const holders = new Set(periodicJobs.map((j) => first[j].holder));
    expect(holders.size).toBe(1);

    // CP-A goes away (its server, jobs and connections); B takes every job over. Closed once: the
    // deployment's own clean-up closes it again.
    const closeA = d.controlPlane.close;
    let closingA: Promise<void> | undefined;
    d.controlPlane.close = () => {
      closingA ??= closeA();
      return closingA;
    };
    await d.controlPlane.close();
    const after = await waitUntil("CP-B to take every job", async () => {
      const now = await leases();
      return periodicJobs.every((j) => now[j].holder && now[j].holder !== first[j].holder) ? now : undefined;
    });
    for (const job of periodicJobs) {
      expect(Number(after[job].fence), job).toBe(Number(first[job].fence) + 1);
    }
    expect(new Set(periodicJobs.map((j) => after[j].holder)).size).toBe(1);
    expect((await fetch(`${d.url}/health`).catch(() => undefined))?.status).toBeUndefined();

    // Nothing lost: the sandbox, exec, the port proxy and a PTY through B alone.
    const listed = await apiCall(viaB(), "GET", `/v1/sandboxes/${sandboxId}`);
    expect(listed.body.state).toBe("running");
    expect((await execVia(b.url, "cat /tmp/www/index.html")).stdout).toBe("hello-through-b\n");
    expect(await proxiedVia(b.url)).toBe("hello-through-b\n");
    await ptyEcho(b.url, b.url, "pty-b-only");
    // The host is still online as B's host monitor (the holder now) sees it.
    const host = await fetch(`${b.url}/v1/hosts/${d.hostId}`, {
      headers: { authorization: `Bearer ${d.adminToken}` },
    });
    expect(((await host.json()) as { status: string }).status).toBe("online");
  });
});
