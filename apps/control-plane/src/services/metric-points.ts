import type { Logger } from "@wrenn/common";
import {
  type Database,
  insertMetricPoints,
  type MetricTier,
  type Sandbox,
  type StoredMetricPoint,
} from "@wrenn/db";
import { hostagent } from "@wrenn/proto";
import type { AgentClient } from "../hosts/pool.ts";
import { formatId } from "../ids.ts";

// The sandbox lifecycle (sandboxes.ts) flushes samples and the metrics service (sandbox-metrics.ts)
// reads them; this module holds what both need, so neither imports the other.

const tierOfProto: Partial<Record<hostagent.MetricsTier, MetricTier>> = {
  [hostagent.MetricsTier.METRICS_TIER_10M]: "10m",
  [hostagent.MetricsTier.METRICS_TIER_2H]: "2h",
  [hostagent.MetricsTier.METRICS_TIER_24H]: "24h",
};

/** The agent's samples as stored rows. */
export function fromProto(points: hostagent.MetricPoint[]): StoredMetricPoint[] {
  return points.map((p) => ({
    ts: p.timestamp
      ? new Date(Number(p.timestamp.seconds) * 1000 + Math.floor(p.timestamp.nanos / 1e6))
      : new Date(0),
    cpuPct: p.cpuPercent,
    memBytes: Number(p.memoryRssBytes),
    diskBytes: Number(p.diskBytes),
  }));
}

/**
 * Moves the agent's buffered samples of a sandbox into PostgreSQL (before
 * pause and destroy). Best effort: losing samples must never block a lifecycle action.
 */
export async function flushSandboxMetrics(
  db: Database,
  log: Logger,
  agent: AgentClient,
  row: Sandbox,
): Promise<void> {
  try {
    const res = await agent.flushSandboxMetrics({ sandboxId: formatId("sandbox", row.id) });
    for (const series of res.series) {
      const tier = tierOfProto[series.tier];
      if (tier) await insertMetricPoints(db, row.id, tier, fromProto(series.points));
    }
  } catch (err) {
    log.warn({ err, sandboxId: row.id }, "flushing sandbox metrics failed");
  }
}
