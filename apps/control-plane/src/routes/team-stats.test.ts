import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// GET /v1/sandboxes/stats through app.request() on real PostgreSQL: samples are written as the
// sampler writes them (sampler.test.ts covers the sampler itself).
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

const uuid = (wire: string) => wire.slice(wire.indexOf("-") + 1);

async function sample(
  teamWire: string,
  at: Date,
  running: number,
  paused = 0,
  vcpus = running,
  mem = 512 * running,
) {
  await t.db.pool.query(
    "INSERT INTO sandbox_metrics_snapshots (team_id, sampled_at, running_count, paused_count, vcpus_reserved, memory_mb_reserved) VALUES ($1, $2, $3, $4, $5, $6)",
    [uuid(teamWire), at, running, paused, vcpus, mem],
  );
}

describe("GET /v1/sandboxes/stats", () => {
  it("gives current usage from the sandboxes, and a full evenly spaced series", async () => {
    const u = await signupUser(t.app);
    await t.db.pool.query(
      "INSERT INTO sandboxes (team_id, state, vcpus, memory_mb) VALUES ($1, 'running', 2, 1024), ($1, 'paused', 1, 512), ($1, 'stopped', 1, 512)",
      [uuid(u.team.id)],
    );
    const before = Date.now();
    const res = await call(t.app, "GET", "/v1/sandboxes/stats?range=5m", { token: u.token });
    expect(res.status).toBe(200);
    expect(res.body.range).toBe("5m");
    expect(res.body.current).toEqual({ running: 1, paused: 1, vcpus_running: 2, memory_mb_running: 1024 });
    // Now counts towards the peak even before the sampler has seen it.
    expect(res.body.peak).toEqual(res.body.current);
    const times = res.body.series.map((p: { t: string }) => Date.parse(p.t));
    expect(times).toHaveLength(30);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(10_000);
    expect(times.at(-1)).toBeLessThanOrEqual(Date.now());
    expect(times.at(-1)).toBeGreaterThan(before - 10_000);
    expect(res.body.series[0]).toEqual({
      t: expect.any(String),
      running: 0,
      paused: 0,
      vcpus: 0,
      memory_mb: 0,
    });
  });

  it("downsamples to the highest sample per bucket, repeats a sample across short gaps only", async () => {
    const u = await signupUser(t.app);
    // Buckets of the 1h range are 15 s wide; put samples well inside the range.
    const bucket = Math.floor(Date.now() / 15_000) * 15_000 - 40 * 15_000;
    await sample(u.team.id, new Date(bucket + 1_000), 2);
    await sample(u.team.id, new Date(bucket + 11_000), 5, 1);
    // Then silence (no sampler ran) for five minutes.
    const res = await call(t.app, "GET", "/v1/sandboxes/stats?range=1h", { token: u.token });
    expect(res.status).toBe(200);
    const series = res.body.series as { t: string; running: number; paused: number }[];
    expect(series).toHaveLength(240);
    const at = (ms: number) => series.find((p) => Date.parse(p.t) === ms);
    expect(at(bucket)).toMatchObject({ running: 5, paused: 1 });
    expect(at(bucket + 15_000)).toMatchObject({ running: 5 });
    expect(at(bucket + 30_000)).toMatchObject({ running: 5 });
    expect(at(bucket + 45_000)).toMatchObject({ running: 0, paused: 0 });
    expect(res.body.peak).toEqual({ running: 5, paused: 1, vcpus_running: 5, memory_mb_running: 2560 });
    expect(res.body.current).toEqual({ running: 0, paused: 0, vcpus_running: 0, memory_mb_running: 0 });
  });

  it("has ≤ 300 points for every range and defaults to 1h", async () => {
    const u = await signupUser(t.app);
    const expected = { "5m": 30, "1h": 240, "6h": 240, "24h": 288, "30d": 240 };
    for (const [range, points] of Object.entries(expected)) {
      const res = await call(t.app, "GET", `/v1/sandboxes/stats?range=${range}`, { token: u.token });
      expect(res.body.series, range).toHaveLength(points);
    }
    const plain = await call(t.app, "GET", "/v1/sandboxes/stats", { token: u.token });
    expect(plain.body.range).toBe("1h");
  });

  it("rejects an unknown range and anonymous callers; accepts API keys", async () => {
    const u = await signupUser(t.app);
    const bad = await call(t.app, "GET", "/v1/sandboxes/stats?range=2d", { token: u.token });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("invalid_argument");
    expect(bad.body.message).toMatch(/range/);
    expect((await call(t.app, "GET", "/v1/sandboxes/stats")).status).toBe(401);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "stats" } });
    const byKey = await call(t.app, "GET", "/v1/sandboxes/stats?range=5m", { apiKey: key.body.key });
    expect(byKey.status).toBe(200);
  });

  it("shows a team only its own sandboxes and samples", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    await t.db.pool.query("INSERT INTO sandboxes (team_id, state) VALUES ($1, 'running')", [uuid(a.team.id)]);
    await sample(a.team.id, new Date(Date.now() - 20_000), 7);
    const res = await call(t.app, "GET", "/v1/sandboxes/stats?range=5m", { token: b.token });
    expect(res.body.current.running).toBe(0);
    expect(res.body.peak.running).toBe(0);
    expect(res.body.series.every((p: { running: number }) => p.running === 0)).toBe(true);
    const own = await call(t.app, "GET", "/v1/sandboxes/stats?range=5m", { token: a.token });
    expect(own.body.peak.running).toBe(7);
  });
});
