import { and, asc, eq, gte } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { sandboxMetricPoints } from "../schema.ts";

/** A retention tier of sandbox metrics. */
export type MetricTier = "10m" | "2h" | "24h";

/** One stored sample. */
export interface StoredMetricPoint {
  ts: Date;
  cpuPct: number;
  memBytes: number;
  diskBytes: number;
}

/** Stores flushed samples of a sandbox (a point already stored is kept, so re-flushing is harmless). */
export async function insertMetricPoints(
  ex: Executor,
  sandboxId: string,
  tier: MetricTier,
  points: StoredMetricPoint[],
): Promise<void> {
  if (points.length === 0) return;
  // Chunked: one INSERT per 1000 rows keeps the statement well under PostgreSQL's parameter limit.
  for (let at = 0; at < points.length; at += 1000) {
    await ex
      .insert(sandboxMetricPoints)
      .values(points.slice(at, at + 1000).map((p) => ({ sandboxId, tier, ...p })))
      .onConflictDoNothing();
  }
}

/** Stored samples of one tier since `since`, oldest first. */
export async function listMetricPoints(
  ex: Executor,
  sandboxId: string,
  tier: MetricTier,
  since: Date,
): Promise<StoredMetricPoint[]> {
  return ex
    .select({
      ts: sandboxMetricPoints.ts,
      cpuPct: sandboxMetricPoints.cpuPct,
      memBytes: sandboxMetricPoints.memBytes,
      diskBytes: sandboxMetricPoints.diskBytes,
    })
    .from(sandboxMetricPoints)
    .where(
      and(
        eq(sandboxMetricPoints.sandboxId, sandboxId),
        eq(sandboxMetricPoints.tier, tier),
        gte(sandboxMetricPoints.ts, since),
      ),
    )
    .orderBy(asc(sandboxMetricPoints.ts));
}
