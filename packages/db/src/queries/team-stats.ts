import { and, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { sandboxes, sandboxMetricsSnapshots } from "../schema.ts";

/** A team's sandbox usage at one moment. */
export interface TeamUsage {
  running: number;
  paused: number;
  /** vCPUs of the running sandboxes. */
  vcpus: number;
  /** Memory of the running sandboxes. */
  memoryMb: number;
}

/** One downsampled point of a team's usage: the highest value of each field within the bucket. */
export interface TeamUsagePoint extends TeamUsage {
  /** Start of the bucket. */
  t: Date;
}

// Only a previous sample this recent is carried to zero; after a longer gap the series already
// reads as zero (the stats view fills empty buckets with zeros).
const CARRY_WINDOW = "5 minutes";

/**
 * Records every team's usage at `at` in one statement: one row per team with a running or paused
 * sandbox, plus a zero row for each team that had some at the previous sample (so a drop to
 * zero is recorded, not left as a stale last value). A sample already taken at `at` is kept.
 * Returns the number of rows written.
 */
export async function recordTeamUsageSample(ex: Executor, at: Date): Promise<number> {
  const res = await ex.execute(sql`
    WITH live AS (
      SELECT team_id,
             count(*) FILTER (WHERE state = 'running')::int AS running,
             count(*) FILTER (WHERE state = 'paused')::int AS paused,
             coalesce(sum(vcpus) FILTER (WHERE state = 'running'), 0)::int AS vcpus,
             coalesce(sum(memory_mb) FILTER (WHERE state = 'running'), 0)::int AS memory_mb
        FROM sandboxes
       WHERE state IN ('running', 'paused')
       GROUP BY team_id
    ), previous AS (
      SELECT team_id
        FROM sandbox_metrics_snapshots
       WHERE sampled_at = (
               SELECT max(sampled_at) FROM sandbox_metrics_snapshots
                WHERE sampled_at < ${at} AND sampled_at > ${at}::timestamptz - ${CARRY_WINDOW}::interval)
         AND (running_count > 0 OR paused_count > 0)
    )
    INSERT INTO sandbox_metrics_snapshots
           (team_id, sampled_at, running_count, paused_count, vcpus_reserved, memory_mb_reserved)
    SELECT coalesce(live.team_id, previous.team_id), ${at},
           coalesce(live.running, 0), coalesce(live.paused, 0),
           coalesce(live.vcpus, 0), coalesce(live.memory_mb, 0)
      FROM live FULL OUTER JOIN previous ON previous.team_id = live.team_id
      -- A team deleted since the previous sample has no row to point at.
     WHERE EXISTS (SELECT 1 FROM teams WHERE teams.id = coalesce(live.team_id, previous.team_id))
    ON CONFLICT (team_id, sampled_at) DO NOTHING`);
  return res.rowCount ?? 0;
}

/**
 * Folds every team's samples in [`from`, `to`) into one row per `bucketSec`-wide bucket (at the
 * bucket's start, epoch-aligned), keeping the highest value of each field: what a view with
 * buckets of that width or a multiple of it reads is unchanged, at a fraction of the rows.
 * `from` and `to` should be bucket boundaries. Returns how many samples were folded.
 */
export async function compactTeamUsageSamples(
  ex: Executor,
  from: Date,
  to: Date,
  bucketSec: number,
): Promise<number> {
  const res = await ex.execute(sql`
    WITH folded AS (
      DELETE FROM sandbox_metrics_snapshots
       WHERE sampled_at >= ${from} AND sampled_at < ${to}
         AND extract(epoch FROM sampled_at)::bigint % ${bucketSec} <> 0
      RETURNING *
    ), merged AS (
      INSERT INTO sandbox_metrics_snapshots
             (team_id, sampled_at, running_count, paused_count, vcpus_reserved, memory_mb_reserved)
      SELECT team_id, to_timestamp(floor(extract(epoch FROM sampled_at) / ${bucketSec}) * ${bucketSec}),
             max(running_count), max(paused_count), max(vcpus_reserved), max(memory_mb_reserved)
        FROM folded GROUP BY 1, 2
      ON CONFLICT (team_id, sampled_at) DO UPDATE SET
        running_count = GREATEST(sandbox_metrics_snapshots.running_count, excluded.running_count),
        paused_count = GREATEST(sandbox_metrics_snapshots.paused_count, excluded.paused_count),
        vcpus_reserved = GREATEST(sandbox_metrics_snapshots.vcpus_reserved, excluded.vcpus_reserved),
        memory_mb_reserved = GREATEST(sandbox_metrics_snapshots.memory_mb_reserved, excluded.memory_mb_reserved)
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM folded)::int AS folded, (SELECT count(*) FROM merged)::int AS merged`);
  return (res.rows[0] as { folded: number } | undefined)?.folded ?? 0;
}

/** Deletes samples older than `before` (every team); returns how many. */
export async function pruneTeamUsageSamples(ex: Executor, before: Date): Promise<number> {
  const res = await ex.execute(sql`DELETE FROM sandbox_metrics_snapshots WHERE sampled_at < ${before}`);
  return res.rowCount ?? 0;
}

/**
 * A team's samples since `from`, downsampled into `bucketSec`-wide buckets aligned to the Unix
 * epoch (highest value per field in each bucket), oldest first. Empty buckets are absent.
 */
export async function listTeamUsage(
  ex: Executor,
  teamId: string,
  from: Date,
  bucketSec: number,
): Promise<TeamUsagePoint[]> {
  const bucket = sql<Date>`to_timestamp(floor(extract(epoch FROM ${sandboxMetricsSnapshots.sampledAt}) / ${bucketSec}) * ${bucketSec})`;
  const rows = await ex
    .select({
      t: bucket.mapWith((v: string | Date) => new Date(v)),
      running: sql<number>`max(${sandboxMetricsSnapshots.runningCount})::int`,
      paused: sql<number>`max(${sandboxMetricsSnapshots.pausedCount})::int`,
      vcpus: sql<number>`max(${sandboxMetricsSnapshots.vcpusReserved})::int`,
      memoryMb: sql<number>`max(${sandboxMetricsSnapshots.memoryMbReserved})::int`,
    })
    .from(sandboxMetricsSnapshots)
    .where(
      and(eq(sandboxMetricsSnapshots.teamId, teamId), sql`${sandboxMetricsSnapshots.sampledAt} >= ${from}`),
    )
    .groupBy(sql`1`)
    .orderBy(sql`1`);
  return rows;
}

/** A team's usage right now, from its sandbox rows. */
export async function currentTeamUsage(ex: Executor, teamId: string): Promise<TeamUsage> {
  const [row] = await ex
    .select({
      running: sql<number>`count(*) FILTER (WHERE ${sandboxes.state} = 'running')::int`,
      paused: sql<number>`count(*) FILTER (WHERE ${sandboxes.state} = 'paused')::int`,
      vcpus: sql<number>`coalesce(sum(${sandboxes.vcpus}) FILTER (WHERE ${sandboxes.state} = 'running'), 0)::int`,
      memoryMb: sql<number>`coalesce(sum(${sandboxes.memoryMb}) FILTER (WHERE ${sandboxes.state} = 'running'), 0)::int`,
    })
    .from(sandboxes)
    .where(and(eq(sandboxes.teamId, teamId), inArray(sandboxes.state, ["running", "paused"])));
  return row ?? { running: 0, paused: 0, vcpus: 0, memoryMb: 0 };
}
