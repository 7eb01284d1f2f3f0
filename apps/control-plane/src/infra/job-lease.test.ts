import { createLogger } from "@wrenn/common";
import { createTestRedis, type TestRedis } from "@wrenn/testing/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobLeases } from "./job-lease.ts";

// Two control planes are two JobLeases on one (real) Redis.
let redis: TestRedis;
beforeAll(async () => {
  redis = await createTestRedis();
});
afterAll(async () => {
  await redis?.cleanup();
});

const log = createLogger("test", "silent");

describe("JobLeases", () => {
  it("runs each pass in one process only, and hands the job over when the holder dies or leaves", async () => {
    const a = new JobLeases(redis.redis, log);
    const b = new JobLeases(redis.redis, log);
    const ran: string[] = [];
    const passA = a.gate("host-monitor", 300, async () => ran.push("a"));
    const passB = b.gate("host-monitor", 300, async () => ran.push("b"));
    for (let i = 0; i < 5; i++) await Promise.all([passA(), passB()]);
    expect(ran).toEqual(["a", "a", "a", "a", "a"]);
    // Another job's lease is independent.
    expect(await b.acquire("stats-sampler", 300)).toBeGreaterThan(0);

    // `a` dies (kill -9: it simply stops renewing): `b` takes over once the lease lapses, with a newer fence.
    const fenceA = await a.acquire("host-monitor", 300);
    let fenceB: number | undefined;
    const deadline = Date.now() + 5_000;
    while (fenceB === undefined && Date.now() < deadline) {
      fenceB = await b.acquire("host-monitor", 300);
      if (fenceB === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(fenceB).toBeGreaterThan(fenceA ?? Number.POSITIVE_INFINITY);
    expect(await a.acquire("host-monitor", 300)).toBeUndefined(); // the old holder is out

    // A clean shutdown hands over at once.
    await b.releaseAll();
    expect(await a.acquire("host-monitor", 60_000)).toBeGreaterThan(fenceB ?? 0);
  });
});
