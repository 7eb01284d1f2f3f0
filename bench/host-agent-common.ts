/**
 * Shared helpers of the host-agent benchmarks: an in-process agent on real
 * QEMU microVMs reached through its Connect service, and statistics.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger } from "@wrenn/common";
import { loadConfig, type RunningAgent, startAgent, sweepForkRamDirs } from "@wrenn/host-agent";
import { HostAgentService } from "@wrenn/proto";

/** Runs per measured operation (the issue asks for at least 20). */
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS || 20));

/** An agent started for a benchmark, with a client and a cleanup. */
export interface BenchAgent {
  agent: RunningAgent;
  client: Client<typeof HostAgentService>;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts an agent with its own data directory (the guest image is read from
 * `WRENN_DATA_DIR`, default /var/lib/wrenn). Networking: `WRENN_NETWORK`
 * (default `netns`, the production path) within a private slot range.
 */
export async function startBenchAgent(): Promise<BenchAgent> {
  const dataDir = await mkdtemp(join(tmpdir(), "wrenn-bench-"));
  const config = loadConfig(["--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    ...process.env,
    WRENN_DATA_DIR: process.env.WRENN_DATA_DIR || "/var/lib/wrenn",
    WRENN_NETWORK: process.env.WRENN_NETWORK || "netns",
    WRENN_NET_SLOTS: process.env.WRENN_NET_SLOTS || "3000-3099",
  });
  const agent = await startAgent(config, createLogger("bench", process.env.LOG_LEVEL || "warn"));
  const client = createClient(
    HostAgentService,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${agent.server.port}`, httpVersion: "2" }),
  );
  return {
    agent,
    client,
    dataDir,
    async close() {
      for (const s of agent.manager.list().sandboxes) await agent.manager.destroy(s.id).catch(() => {});
      await agent.close();
      await rm(dataDir, { recursive: true, force: true });
      await sweepForkRamDirs();
    },
  };
}

/** The 1, 5 and 15 minute load averages, as one printable line. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** The q-quantile (0..1) of `values` by nearest rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Median and p95 of a series. */
export function summary(values: number[]): { n: number; median: number; p95: number } {
  return { n: values.length, median: quantile(values, 0.5), p95: quantile(values, 0.95) };
}

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Prints one result row. */
export function report(name: string, values: number[], unit = "ms"): { median: number; p95: number } {
  const s = summary(values);
  console.log(
    `${name.padEnd(44)} n=${String(s.n).padStart(3)}  median ${fmt(s.median)} ${unit}  p95 ${fmt(s.p95)} ${unit}`,
  );
  return s;
}

function fmt(v: number): string {
  return (v >= 100 ? v.toFixed(0) : v.toFixed(1)).padStart(7);
}
