import { createLogger } from "@wrenn/common";
import { createTeam } from "@wrenn/db";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TeamStatsSampler } from "./sampler.ts";

// The sampler against a real PostgreSQL: what one tick writes, the zero row when a team's last
// sandbox stops, retention, and overlapping ticks.
let tdb: TestDatabase;
const log = createLogger("sampler-test", "silent");

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.cleanup();
});
beforeEach(async () => {
  await tdb.pool.query("DELETE FROM sandbox_metrics_snapshots");
  await tdb.pool.query("DELETE FROM sandboxes");
});

async function team(): Promise<string> {
  return (await createTeam(tdb.db, { name: "t" })).id;
}

async function sandbox(teamId: string, state: string, vcpus = 1, memoryMb = 512): Promise<string> {
  const r = await tdb.pool.query(
    "INSERT INTO sandboxes (team_id, state, vcpus, memory_mb) VALUES ($1, $2, $3, $4) RETURNING id",
    [teamId, state, vcpus, memoryMb],
  );
  return r.rows[0].id;
}

async function samples(teamId: string) {
  const r = await tdb.pool.query(
    "SELECT sampled_at, running_count, paused_count, vcpus_reserved, memory_mb_reserved FROM sandbox_metrics_snapshots WHERE team_id = $1 ORDER BY sampled_at",
    [teamId],
  );
  return r.rows.map((row) => ({
    at: (row.sampled_at as Date).toISOString(),
    running: row.running_count,
    paused: row.paused_count,
    vcpus: row.vcpus_reserved,
    memoryMb: row.memory_mb_reserved,
  }));
}

describe("TeamStatsSampler.tick", () => {
  it("records each team's running and paused sandboxes and the resources of the running ones", async () => {
    const a = await team();
    const b = await team();
    const idle = await team();
    await sandbox(a, "running", 2, 1024);
    await sandbox(a, "running", 1, 512);
    await sandbox(a, "paused", 4, 4096);
    await sandbox(a, "stopped", 8, 8192);
    await sandbox(b, "paused");
    let now = new Date("2026-12-01T10:00:00.700Z");
    const sampler = new TeamStatsSampler({ db: tdb.db, log, now: () => now });
    expect(await sampler.tick()).toEqual({ sampled: 2, pruned: 0, compacted: 0 });
    expect(await samples(a)).toEqual([
      { at: "2026-12-01T10:00:00.000Z", running: 2, paused: 1, vcpus: 3, memoryMb: 1536 },
    ]);
    expect(await samples(b)).toEqual([
      { at: "2026-12-01T10:00:00.000Z", running: 0, paused: 1, vcpus: 0, memoryMb: 0 },
    ]);
    // A team without sandboxes costs no row.
    expect(await samples(idle)).toEqual([]);
    // The same second again is kept, not doubled.
    expect((await sampler.tick()).sampled).toBe(0);

    now = new Date("2026-12-01T10:00:10Z");
    await tdb.pool.query("UPDATE sandboxes SET state = 'stopped' WHERE team_id = $1", [b]);
    await sampler.tick();
    // b's drop to zero is recorded once, then b costs nothing again.
    expect((await samples(b)).at(-1)).toEqual({
      at: "2026-12-01T10:00:10.000Z",
      running: 0,
      paused: 0,
      vcpus: 0,
      memoryMb: 0,
    });
    now = new Date("2026-12-01T10:00:20Z");
    await sampler.tick();
    expect(await samples(b)).toHaveLength(2);
    expect(await samples(a)).toHaveLength(3);
  });

  it("deletes samples older than the retention", async () => {
    const a = await team();
    await sandbox(a, "running");
    let now = new Date("2026-01-01T00:00:00Z");
    const sampler = new TeamStatsSampler({ db: tdb.db, log, now: () => now, retentionDays: 60 });
    await sampler.tick();
    now = new Date("2026-02-15T00:00:00Z");
    expect(await sampler.tick()).toEqual({ sampled: 1, pruned: 0, compacted: 0 });
    now = new Date("2026-03-02T00:00:01Z"); // 60 days and 1 s after the first sample
    expect(await sampler.tick()).toEqual({ sampled: 1, pruned: 1, compacted: 0 });
    expect((await samples(a)).map((s) => s.at)).toEqual([
      "2026-02-15T00:00:00.000Z",
      "2026-03-02T00:00:01.000Z",
    ]);
  });

  it("folds samples older than a day into 5-minute buckets holding the highest values", async () => {
    const a = await team();
    const b = await team();
    const insert = (teamId: string, at: string, running: number, paused = 0) =>
      tdb.pool.query(
        "INSERT INTO sandbox_metrics_snapshots (team_id, sampled_at, running_count, paused_count, vcpus_reserved, memory_mb_reserved) VALUES ($1, $2, $3, $4, $3, $3 * 512)",
        [teamId, at, running, paused],
      );
    // One 5-minute bucket of a: a sample on its boundary and three within; b has one sample in it.
    await insert(a, "2026-11-01T09:00:00Z", 1, 4);
    await insert(a, "2026-11-01T09:00:10Z", 3);
    await insert(a, "2026-11-01T09:02:30Z", 7, 1);
    await insert(a, "2026-11-01T09:04:50Z", 2);
    await insert(b, "2026-11-01T09:01:00Z", 5);
    // Within the last day: untouched.
    await insert(a, "2026-11-02T09:00:10Z", 9);
    let now = new Date("2026-11-02T09:06:00Z");
    const sampler = new TeamStatsSampler({ db: tdb.db, log, now: () => now });
    expect((await sampler.tick()).compacted).toBe(4);
    expect(await samples(a)).toEqual([
      { at: "2026-11-01T09:00:00.000Z", running: 7, paused: 4, vcpus: 7, memoryMb: 3584 },
      { at: "2026-11-02T09:00:10.000Z", running: 9, paused: 0, vcpus: 9, memoryMb: 4608 },
    ]);
    expect(await samples(b)).toEqual([
      { at: "2026-11-01T09:00:00.000Z", running: 5, paused: 0, vcpus: 5, memoryMb: 2560 },
    ]);
    // Later passes fold only what crossed the day since.
    now = new Date("2026-11-03T09:10:00Z");
    expect((await sampler.tick()).compacted).toBe(1);
    expect((await samples(a)).map((s) => s.at)).toEqual([
      "2026-11-01T09:00:00.000Z",
      "2026-11-02T09:00:00.000Z",
    ]);
  });

  it("joins a tick in progress instead of running two, and start/stop run it on a timer", async () => {
    const a = await team();
    await sandbox(a, "running");
    const sampler = new TeamStatsSampler({ db: tdb.db, log, intervalMs: 50 });
    const [x, y] = [sampler.tick(), sampler.tick()];
    expect(x).toBe(y);
    await x;
    sampler.start();
    const deadline = Date.now() + 10_000;
    while ((await samples(a)).length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await sampler.stop();
    const taken = (await samples(a)).length;
    expect(taken).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await samples(a)).length).toBe(taken);
  });
});
