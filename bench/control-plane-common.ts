/**
 * Shared helpers of the control-plane benchmarks: a control plane started as its own process
 * against real PostgreSQL and Redis (as in production), and percentiles.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { freePort } from "@wrenn/db";
import { createTestDatabase } from "@wrenn/testing/db";
import { createTestRedis } from "@wrenn/testing/redis";

/** The `p`th percentile of an ascending array (NaN when empty). */
export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** A control plane process started for a benchmark; `stop` ends it and drops its database and Redis. */
export interface BenchControlPlane {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  server: ChildProcess;
  stop(): Promise<void>;
}

/** How to start the control plane for a benchmark. */
export interface BenchControlPlaneOptions {
  /**
   * `tsx`: from its sources (what the auth and dashboard benchmarks measure); `built`: the esbuild
   * bundle `apps/control-plane/dist/main.mjs` (build it first, e.g. with scripts/build.mjs).
   */
  entry?: "tsx" | "built";
  /** Extra environment (rate limits, dashboard directory, …) on top of the connection settings. */
  env?: Record<string, string>;
}

/**
 * Starts a control plane on a free loopback port with a fresh database and Redis and waits
 * (deadline 30 s) until `/health` answers. On a failed start everything is cleaned up.
 */
export async function startBenchControlPlane(
  opts: BenchControlPlaneOptions = {},
): Promise<BenchControlPlane> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const main =
    opts.entry === "built"
      ? [fileURLToPath(new URL("../apps/control-plane/dist/main.mjs", import.meta.url))]
      : ["--import", "tsx", fileURLToPath(new URL("../apps/control-plane/src/main.ts", import.meta.url))];
  const server = spawn(process.execPath, main, {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      JWT_SECRET: randomBytes(32).toString("hex"),
      CP_HOST: "127.0.0.1",
      CP_PORT: String(port),
      LOG_LEVEL: "warn",
      ...opts.env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((r) => server.once("exit", r));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
    await exited;
    await redis.cleanup();
    await db.cleanup();
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (server.exitCode !== null || Date.now() > deadline) throw new Error("control plane did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, server, stop };
}
