/**
 * Team stats benchmark (real PostgreSQL): the cost of `GET /v1/sandboxes/stats` for each range
 * over a team with a full 60 days of 10 s samples (518,400 rows written), before and after the
 * sampler folds samples older than a day into 5-minute buckets; and of one sampler tick with
 * many teams running sandboxes. Service level (no HTTP): the route only maps fields.
 *
 *   node --import tsx bench/team-stats.ts [--runs 20] [--teams 1000]
 */
import { parseArgs } from "node:util";
import { createLogger } from "@wrenn/common";
import { createTeam } from "@wrenn/db";
import { createTestDatabase } from "@wrenn/testing/db";
import type { AuthContext } from "../apps/control-plane/src/services/auth-context.ts";
import { TeamStatsService } from "../apps/control-plane/src/services/team-stats.ts";
import { statsRangeNames } from "../apps/control-plane/src/stats/ranges.ts";
import { TeamStatsSampler } from "../apps/control-plane/src/stats/sampler.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "20" }, teams: { type: "string", default: "1000" } },
});
const runs = Number(values.runs);
const teamCount = Number(values.teams);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}
const summary = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return `median ${pct(s, 50).toFixed(1)} ms, p95 ${pct(s, 95).toFixed(1)} ms`;
};

const db = await createTestDatabase();
try {
  const team = await createTeam(db.db, { name: "bench" });
  const now = Date.now();
  await db.pool.query(
    `INSERT INTO sandbox_metrics_snapshots (team_id, sampled_at, running_count, paused_count, vcpus_reserved, memory_mb_reserved)
     SELECT $1, to_timestamp(floor($2 / 10000.0) * 10 - g * 10), (g % 17), (g % 5), (g % 17) * 2, (g % 17) * 512
       FROM generate_series(0, 60 * 8640 - 1) AS g`,
    [team.id, now],
  );
  await db.pool.query("ANALYZE sandbox_metrics_snapshots");
  const auth: AuthContext = {
    kind: "api_key",
    userId: null,
    teamId: team.id,
    roleHint: null,
    isAdmin: false,
    name: "bench",
    email: "",
    team,
  };
  const svc = new TeamStatsService(db.db);
  const measure = async (label: string) => {
    const rows = (await db.pool.query("SELECT count(*)::int AS n FROM sandbox_metrics_snapshots")).rows[0].n;
    console.log(`stats of one team, 60 days of samples in ${rows} rows (${label}), ${runs} runs each:`);
    for (const range of statsRangeNames) {
      await svc.stats(auth, range);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await svc.stats(auth, range);
        times.push(performance.now() - t0);
      }
      console.log(`  range ${range.padEnd(4)} ${summary(times)}`);
    }
  };
  await measure("raw 10 s samples");
  const sampler = new TeamStatsSampler({ db: db.db, log: createLogger("bench", "silent") });
  const t0 = performance.now();
  const first = await sampler.tick();
  console.log(
    `first sampler pass folded ${first.compacted} samples in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  await db.pool.query("VACUUM ANALYZE sandbox_metrics_snapshots");
  await measure("older than a day folded to 5 min");

  for (let i = 0; i < teamCount; i++) {
    const t = await createTeam(db.db, { name: `t${i}` });
    await db.pool.query(
      "INSERT INTO sandboxes (team_id, state, vcpus, memory_mb) VALUES ($1, 'running', 2, 1024), ($1, 'paused', 1, 512)",
      [t.id],
    );
  }
  const ticks: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await sampler.tick();
    ticks.push(performance.now() - t0);
    // Each tick samples a new second.
    await new Promise((resolve) => setTimeout(resolve, 1_000 - ((performance.now() - t0) % 1_000)));
  }
  console.log(
    `sampler tick with ${teamCount} teams running sandboxes (+ retention delete): ${summary(ticks)}`,
  );
} finally {
  await db.cleanup();
}
