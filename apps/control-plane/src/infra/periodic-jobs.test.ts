import { createLogger } from "@wrenn/common";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { createTestRedis, type TestRedis } from "@wrenn/testing/redis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TeamStatsSampler } from "../stats/sampler.ts";
import { JobLeases } from "./job-lease.ts";

// Two control planes' periodic jobs on one real PostgreSQL and Redis: each pass runs once.
let db: TestDatabase;
let redis: TestRedis;
beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createTestRedis();
});
afterAll(async () => {
  await redis?.cleanup();
  await db?.cleanup();
});

const log = createLogger("test", "silent");

describe("periodic jobs across two control planes", () => {
  it("the stats sampler runs in one process; the other takes over when it stops", async () => {
    const leasesA = new JobLeases(redis.redis, log);
    const a = new TeamStatsSampler({ db: db.db, log, intervalMs: 40, leases: leasesA });
    const b = new TeamStatsSampler({
      db: db.db,
      log,
      intervalMs: 40,
      leases: new JobLeases(redis.redis, log),
    });
    const tickA = vi.spyOn(a, "tick");
    const tickB = vi.spyOn(b, "tick");
    a.start();
    await new Promise((r) => setTimeout(r, 20));
    b.start();
    const deadline = Date.now() + 10_000;
    while (tickA.mock.calls.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(tickA.mock.calls.length).toBeGreaterThanOrEqual(5);
    expect(tickB).not.toHaveBeenCalled();
    // A clean stop of the first hands the job over (its lease is released).
    await a.stop();
    const aCalls = tickA.mock.calls.length;
    await leasesA.releaseAll();
    while (tickB.mock.calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(tickB.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(tickA.mock.calls.length).toBe(aCalls);
    await b.stop();
  });
});
