/**
 * Port proxy benchmark, end to end over real HTTP: a listening control plane (real
 * PostgreSQL, Redis) with its registered in-process host agent (netns networking, QEMU
 * microVM), `startTestDeployment`. Both paths are measured in the same run, interleaved.
 *
 *   node --import tsx bench/control-plane-proxy.ts
 *
 * BENCH_RUNS (default 20) file downloads per path; BENCH_PING_RUNS (default 200) small
 * requests per path; BENCH_FILE_MB (default 16) size of the downloaded file.
 *
 * What is measured (envd inside the guest answers every request):
 * - small request: `GET /health` on port 49983 1. through the control plane's port proxy
 *   (`E2b-Sandbox-Id`/`E2b-Sandbox-Port` + `X-Access-Token`, lookup cached), 2. the same
 *   with the Redis cache entry deleted before each request (one PostgreSQL query), 3. the
 *   agent's `/proxy/{sandboxId}/49983/health` called directly (what the control plane calls).
 * - download MB/s: envd's `GET /files?path=…` of a random file through both paths.
 */
import { createHash } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { loadavg } from "node:os";
import { startTestDeployment } from "@wrenn/testing/deployment";
import { Redis } from "ioredis";
import { RUNS, report, summary } from "./host-agent-common.ts";

const PING_RUNS = Math.max(1, Number(process.env.BENCH_PING_RUNS || 200));
const FILE_MB = Math.max(1, Number(process.env.BENCH_FILE_MB || 16));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
console.log(`load average at start: ${load()}`);

const d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
const redis = new Redis(d.config.redisUrl);
// Keep-alive on both paths, as SDK clients do.
const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

function get(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; bytes: number; sha: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: keepAlive }, (res) => {
      const hash = createHash("sha256");
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha: hash.digest("hex") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function timedGet(url: string, headers: Record<string, string>, want: number): Promise<number> {
  const t0 = performance.now();
  const r = await get(url, headers);
  const ms = performance.now() - t0;
  if (r.status !== want) throw new Error(`GET ${url} → ${r.status}`);
  return ms;
}

try {
  const created = await fetch(`${d.url}/v1/sandboxes`, {
    method: "POST",
    headers: { "x-api-key": d.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ timeout_sec: 0 }),
  });
  const sb = (await created.json()) as { id: string; envd_access_token: string };
  if (created.status !== 201) throw new Error(`create → ${created.status} ${JSON.stringify(sb)}`);
  const exec = await fetch(`${d.url}/v1/sandboxes/${sb.id}/exec`, {
    method: "POST",
    headers: { "x-api-key": d.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ cmd: `head -c ${FILE_MB}M /dev/urandom > /tmp/blob && sha256sum /tmp/blob` }),
  });
  const guestSha = ((await exec.json()) as { stdout: string }).stdout.split(" ")[0];

  const viaCp = {
    url: (path: string) => `${d.url}${path}`,
    headers: { "e2b-sandbox-id": sb.id, "e2b-sandbox-port": "49983", "x-access-token": sb.envd_access_token },
  };
  const viaAgent = {
    url: (path: string) => `http://127.0.0.1:${d.agent.server.port}/proxy/${sb.id}/49983${path}`,
    headers: { "x-access-token": sb.envd_access_token },
  };
  const cacheKey = `wrenn:proxy:target:${sb.id.slice(3)}`;

  console.log(`\nGET /health on envd (${PING_RUNS} runs per path, interleaved)`);
  const cp: number[] = [];
  const cpMiss: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 10; i++) await timedGet(viaCp.url("/health"), viaCp.headers, 204).catch(() => {});
  for (let i = 0; i < PING_RUNS; i++) {
    cp.push(await timedGet(viaCp.url("/health"), viaCp.headers, 204));
    await redis.del(cacheKey);
    cpMiss.push(await timedGet(viaCp.url("/health"), viaCp.headers, 204));
    direct.push(await timedGet(viaAgent.url("/health"), viaAgent.headers, 204));
  }
  const a = report("control plane proxy (cached lookup)", cp);
  const m = report("control plane proxy (cache miss: 1 query)", cpMiss);
  const b = report("agent /proxy directly", direct);
  console.log(
    `control plane overhead: median +${(a.median - b.median).toFixed(2)} ms cached, +${(m.median - b.median).toFixed(2)} ms on a miss (ratio ${(a.median / b.median).toFixed(2)}×)`,
  );

  console.log(`\nGET /files of a ${FILE_MB} MiB file (${RUNS} runs per path, interleaved)`);
  const path = "/files?path=%2Ftmp%2Fblob&username=root";
  const cpFiles: number[] = [];
  const agentFiles: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [via, into] of [
      [viaCp, cpFiles],
      [viaAgent, agentFiles],
    ] as const) {
      const t0 = performance.now();
      const r = await get(via.url(path), via.headers);
      const ms = performance.now() - t0;
      if (r.status !== 200 || r.sha !== guestSha) throw new Error(`download → ${r.status}, ${r.bytes} bytes`);
      into.push(ms);
    }
  }
  const rate = (ms: number) => FILE_MB / (ms / 1000);
  for (const [name, ms] of [
    ["control plane proxy", cpFiles],
    ["agent /proxy directly", agentFiles],
  ] as const) {
    const s = summary(ms);
    console.log(
      `${name.padEnd(44)} n=${String(s.n).padStart(3)}  median ${rate(s.median).toFixed(1).padStart(6)} MB/s (${s.median.toFixed(0)} ms)  p95 ${rate(s.p95).toFixed(1).padStart(6)} MB/s (${s.p95.toFixed(0)} ms)`,
    );
  }
  console.log(`\nload average at end: ${load()}`);
} finally {
  redis.disconnect();
  keepAlive.destroy();
  await d.close();
}
