import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type HostAgentService, hostagent } from "@wrenn/proto";
import { type RpcTestAgent, startRpcTestAgent } from "@wrenn/testing/rpc-agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "../main.ts";

// A real agent (real QEMU microVM, netns networking: the port proxy reaches guests at
// their host-reachable slot address) driven through its Connect service and its
// `/proxy/{id}/{port}/` HTTP route. Fails, never skips, without QEMU or root.
let a: RpcTestAgent;
let agent: RunningAgent;
let client: Client<typeof HostAgentService>;
let base = "";
const id = `mp-${Math.random().toString(36).slice(2, 10)}`;

async function sh(script: string) {
  const r = await client.exec({ sandboxId: id, command: { cmd: "/bin/sh", args: ["-c", script] } });
  expect(r.exitCode, Buffer.from(r.stderr).toString()).toBe(0);
  return Buffer.from(r.stdout).toString();
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  a = await startRpcTestAgent({ name: "metrics-proxy", network: "netns" });
  ({ agent, client, baseUrl: base } = a);
  await client.createSandbox({ sandboxId: id, teamId: "team-m", templateId: "minimal" });
});

afterAll(async () => {
  await agent?.manager.destroy(id).catch(() => {});
  await a?.close();
});

describe("GetSandboxMetrics on a real VM", () => {
  it("reports CPU, RSS and disk points sampled every 500 ms", async () => {
    // Busy for a few seconds so some samples see guest CPU time; 16 MB on disk for the overlay.
    await sh("dd if=/dev/urandom of=/home/user/blob bs=1M count=16 2>/dev/null && sync");
    await client.exec({
      sandboxId: id,
      command: {
        cmd: "/bin/sh",
        args: ["-c", "end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do :; done"],
      },
      background: true,
    });
    const points = await until("six metric points, one with CPU use", async () => {
      const res = await client.getSandboxMetrics({
        sandboxId: id,
        range: hostagent.MetricsRange.METRICS_RANGE_5M,
      });
      expect(res.series?.tier).toBe(hostagent.MetricsTier.METRICS_TIER_10M);
      const p = res.series?.points ?? [];
      return p.length >= 6 && p.some((x) => x.cpuPercent > 5) ? p : undefined;
    });
    for (const p of points) {
      expect(p.memoryRssBytes).toBeGreaterThan(0n);
      expect(p.diskBytes).toBeGreaterThan(0n);
      expect(p.cpuPercent).toBeGreaterThanOrEqual(0);
    }
    const last = points.at(-1);
    // QEMU maps a 512 MB guest; its resident set is tens of MB at least, never the whole host.
    expect(Number(last?.memoryRssBytes)).toBeGreaterThan(16 * 2 ** 20);
    // The overlay holds at least the 16 MB written above.
    expect(Number(last?.diskBytes)).toBeGreaterThan(16 * 2 ** 20);
    const times = points.map((p) => Number(p.timestamp?.seconds) * 1000 + (p.timestamp?.nanos ?? 0) / 1e6);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] ?? 0);
  });

  it("rejects an unknown sandbox and a missing range", async () => {
    const code = async (p: Promise<unknown>) =>
      p.then(() => undefined).catch((e) => ConnectError.from(e).code);
    expect(
      await code(
        client.getSandboxMetrics({ sandboxId: "nope", range: hostagent.MetricsRange.METRICS_RANGE_5M }),
      ),
    ).toBe(Code.NotFound);
    expect(await code(client.getSandboxMetrics({ sandboxId: id }))).toBe(Code.InvalidArgument);
  });
});

describe("the port proxy on a real VM", () => {
  it("reaches an HTTP server started in the guest", async () => {
    await sh("mkdir -p /tmp/www && echo 'hello from the guest' > /tmp/www/hello.txt");
    await client.exec({
      sandboxId: id,
      command: { cmd: "python3", args: ["-m", "http.server", "8080", "--directory", "/tmp/www"] },
      background: true,
      tag: "web",
    });
    const res = await until("the guest server answers through the proxy", async () => {
      const r = await fetch(`${base}/proxy/${id}/8080/hello.txt`);
      if (r.status === 200) return r;
      await r.body?.cancel();
      return undefined;
    });
    expect(await res.text()).toBe("hello from the guest\n");
    // A directory listing: the rest of the path and the query reach the guest unchanged.
    const listing = await fetch(`${base}/proxy/${id}/8080/?x=1`);
    expect(listing.status).toBe(200);
    expect(await listing.text()).toContain("hello.txt");
  });

  it("answers 502 with a clear body when nothing listens on the port", async () => {
    const res = await fetch(`${base}/proxy/${id}/9/`);
    expect(res.status).toBe(502);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({
      code: "unavailable",
      message: `nothing is listening on port 9 of sandbox ${id}`,
    });
  });

  it("answers 400 for an invalid port and 404 for an unknown sandbox", async () => {
    const bad = await fetch(`${base}/proxy/${id}/70000/`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe("invalid_argument");
    const unknown = await fetch(`${base}/proxy/sb-unknown/8080/`);
    expect(unknown.status).toBe(404);
  });
});
