import { describe, expect, it } from "vitest";
import { LeastLoadedScheduler } from "./scheduler.ts";
import { preferWarmHosts, warmMemoryMb, warmPoolOf, warmReady } from "./warm-placement.ts";

const PLATFORM = "00000000-0000-0000-0000-000000000000";
const entry = (template_id: string, ready: number, over: Record<string, unknown> = {}) => ({
  template_id,
  template_team_id: PLATFORM,
  ready,
  starting: 0,
  memory_mb: ready * 512,
  ...over,
});
const candidate = (id: string, memoryMbReserved = 0, memoryMb = 8192) => ({
  id,
  cpuCount: 4,
  memoryMb,
  sandboxes: 0,
  vcpusReserved: 0,
  memoryMbReserved,
});

describe("warm pool placement", () => {
  it("reads the heartbeat's pool from host metadata, ignoring anything malformed", () => {
    expect(warmPoolOf({ metadata: {} })).toEqual([]);
    expect(warmPoolOf({ metadata: { warm_pool: "nope" } })).toEqual([]);
    expect(warmPoolOf({ metadata: { warm_pool: [entry("minimal", 1), { template_id: 3 }, null] } })).toEqual([
      entry("minimal", 1),
    ]);
  });

  it("counts warm VMs' memory and ready VMs per template and team", () => {
    const pool = [
      entry("minimal", 2),
      entry("tpl-1", 1, { template_team_id: "team-a", starting: 1, memory_mb: 2048 }),
    ];
    expect(warmMemoryMb(pool)).toBe(3072);
    expect(warmReady(pool, "minimal", PLATFORM)).toBe(2);
    expect(warmReady(pool, "tpl-1", "team-a")).toBe(1);
    expect(warmReady(pool, "tpl-1", "team-b")).toBe(0);
    expect(warmReady(pool, "python", PLATFORM)).toBe(0);
  });

  it("prefers hosts with a ready warm VM over emptier ones, unless none has one or they are full", () => {
    const scheduler = new LeastLoadedScheduler();
    const hosts = [candidate("a"), candidate("b", 4096)];
    const ready: Record<string, number> = { b: 1 };
    const preferred = preferWarmHosts(
      hosts,
      (id) => ready[id] ?? 0,
      () => 512,
    );
    expect(preferred.map((h) => h.id)).toEqual(["b"]);
    // The least-loaded scheduler alone would take the emptier host.
    expect(scheduler.pick(hosts, { vcpus: 1, memoryMb: 512 })).toBe("a");
    expect(scheduler.pick(preferred, { vcpus: 1, memoryMb: 512 })).toBe("b");
    expect(
      preferWarmHosts(
        hosts,
        () => 0,
        () => 512,
      ),
    ).toEqual(hosts);
    // A warm host already overcommitted beyond its warm VM is not preferred.
    const full = [candidate("a"), candidate("b", 9000)];
    expect(
      preferWarmHosts(
        full,
        (id) => ready[id] ?? 0,
        () => 512,
      ),
    ).toEqual(full);
  });
});
