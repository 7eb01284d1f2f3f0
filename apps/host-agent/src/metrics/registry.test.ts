/** Real processes and files: a busy loop, an idle process, a written file and a sparse one. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MetricsRegistry } from "./registry.ts";
import { TIER_SPECS } from "./tiered-series.ts";

let dir: string;
let busy: ChildProcess;
let idle: ChildProcess;
const registry = new MetricsRegistry({ intervalMs: 100 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wrenn-metrics-"));
  await writeFile(join(dir, "written.qcow2"), Buffer.alloc(4 << 20, 1));
  await writeFile(join(dir, "sparse.qcow2"), "");
  await truncate(join(dir, "sparse.qcow2"), 1 << 30);
  busy = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  idle = spawn("sleep", ["600"], { stdio: "ignore" });
});

afterAll(async () => {
  registry.stop();
  busy.kill("SIGKILL");
  idle.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("MetricsRegistry", () => {
  it("samples CPU, RSS and real disk usage of real processes", async () => {
    registry.track("busy", busy.pid as number, join(dir, "written.qcow2"));
    registry.track("idle", idle.pid as number, join(dir, "sparse.qcow2"));
    registry.start();
    await expect
      .poll(() => registry.get("busy", "5m")?.length ?? 0, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(8);
    const busyPoints = registry.get("busy", "5m") ?? [];
    const idlePoints = registry.get("idle", "10m") ?? [];
    const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    // A busy loop on a shared (often overloaded) 2-core machine: clearly above the idle
    // process, at most about one core. Thresholds stay loose because other suites compete.
    const busyCpu = average(busyPoints.map((p) => p.cpuPercent));
    const idleCpu = average(idlePoints.map((p) => p.cpuPercent));
    expect(busyCpu).toBeGreaterThan(5);
    expect(busyCpu).toBeGreaterThan(idleCpu + 5);
    expect(Math.max(...busyPoints.map((p) => p.cpuPercent))).toBeLessThan(150);
    expect(idleCpu).toBeLessThan(5);
    expect(busyPoints.every((p) => p.memBytes > 10 << 20)).toBe(true);
    expect(busyPoints.every((p) => p.diskBytes >= 4 << 20 && p.diskBytes < 5 << 20)).toBe(true);
    // 1 GiB apparent size, (almost) nothing allocated.
    expect(idlePoints.every((p) => p.diskBytes < 1 << 20)).toBe(true);
    const times = busyPoints.map((p) => p.ts);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("flushes every tier and keeps sampling until untracked", async () => {
    const flushed = registry.flush("busy");
    const fine = flushed?.["10m"] ?? [];
    expect(fine.length).toBeGreaterThan(0);
    // The coarser tiers hold one point per wall-clock window (30 s, 5 min) the samples fell in:
    // usually one, two when the sampling crossed a window's edge.
    const windows = (stepMs: number) => new Set(fine.map((p) => Math.floor(p.ts / stepMs))).size;
    expect(flushed?.["2h"]).toHaveLength(windows(TIER_SPECS["2h"].stepMs));
    expect(flushed?.["24h"]).toHaveLength(windows(TIER_SPECS["24h"].stepMs));
    expect(Math.max(...(flushed?.["2h"] ?? []).map((p) => p.cpuPercent))).toBeGreaterThan(5);
    expect(registry.get("busy", "5m")?.length).toBeLessThanOrEqual(1);
    await expect.poll(() => registry.get("busy", "5m")?.length ?? 0).toBeGreaterThanOrEqual(2);
    registry.untrack("busy");
    expect(registry.get("busy", "5m")).toBeNull();
    expect(registry.flush("busy")).toBeNull();
  });

  it("survives a tracked process exiting and follows a new pid after track()", async () => {
    idle.kill("SIGKILL");
    await new Promise((resolve) => idle.once("exit", resolve));
    const before = registry.get("idle", "10m")?.length ?? 0;
    await registry.sampleAll();
    expect(registry.get("idle", "10m")).toHaveLength(before);
    registry.track("idle", busy.pid as number, join(dir, "sparse.qcow2"));
    await expect.poll(() => registry.get("idle", "10m")?.length ?? 0).toBeGreaterThanOrEqual(before + 5);
    // 100 ms samples at 100 ticks/s are coarse: judge the busy process by the average.
    const fresh = (registry.get("idle", "10m") ?? []).slice(before);
    expect(fresh.reduce((sum, p) => sum + p.cpuPercent, 0) / fresh.length).toBeGreaterThan(5);
    expect(() => registry.track("x", 0, "/nope")).toThrow(RangeError);
  });
});
