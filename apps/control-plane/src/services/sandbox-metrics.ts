import { errors, type Logger } from "@wrenn/common";
import { type Database, listMetricPoints, type MetricTier, type StoredMetricPoint } from "@wrenn/db";
import { hostagent } from "@wrenn/proto";
import { callAgent } from "../hosts/pool.ts";
import type { AuthContext } from "./auth-context.ts";
import { fromProto } from "./metric-points.ts";
import type { SandboxesService } from "./sandboxes.ts";

/** Ranges the metrics route offers. */
export const metricsRanges = ["5m", "10m", "1h", "2h", "6h", "12h", "24h"] as const;
/** One of {@link metricsRanges}. */
export type MetricsRange = (typeof metricsRanges)[number];

// Each range is served from the coarsest tier covering it (the agent uses the same table).
const rangeTiers: Record<MetricsRange, { tier: MetricTier; spanMs: number; proto: hostagent.MetricsRange }> =
  {
    "5m": { tier: "10m", spanMs: 5 * 60_000, proto: hostagent.MetricsRange.METRICS_RANGE_5M },
    "10m": { tier: "10m", spanMs: 10 * 60_000, proto: hostagent.MetricsRange.METRICS_RANGE_10M },
    "1h": { tier: "2h", spanMs: 3_600_000, proto: hostagent.MetricsRange.METRICS_RANGE_1H },
    "2h": { tier: "2h", spanMs: 2 * 3_600_000, proto: hostagent.MetricsRange.METRICS_RANGE_2H },
    "6h": { tier: "24h", spanMs: 6 * 3_600_000, proto: hostagent.MetricsRange.METRICS_RANGE_6H },
    "12h": { tier: "24h", spanMs: 12 * 3_600_000, proto: hostagent.MetricsRange.METRICS_RANGE_12H },
    "24h": { tier: "24h", spanMs: 24 * 3_600_000, proto: hostagent.MetricsRange.METRICS_RANGE_24H },
  };

/** A sandbox's samples for a range. */
export interface SandboxMetrics {
  range: MetricsRange;
  tier: MetricTier;
  points: StoredMetricPoint[];
}

/**
 * Sandbox metrics: live from the agent while running (plus what earlier
 * pauses flushed to PostgreSQL), from PostgreSQL while paused, 404 once stopped.
 */
export class SandboxMetricsService {
  constructor(
    private readonly deps: { db: Database; sandboxes: SandboxesService; log: Logger; now?: () => Date },
  ) {}

  /** Samples of `range`, oldest first. */
  async get(auth: AuthContext, id: string, range: MetricsRange): Promise<SandboxMetrics> {
    const { tier, spanMs, proto } = rangeTiers[range];
    const row = await this.deps.sandboxes.get(auth, id);
    if (row.state === "stopped" || row.state === "error") {
      throw errors.notFound(`sandbox is ${row.state}; its metrics are gone`);
    }
    const since = new Date((this.deps.now?.() ?? new Date()).getTime() - spanMs);
    const stored = await listMetricPoints(this.deps.db, row.id, tier, since);
    if (row.state !== "running") return { range, tier, points: stored };
    const { agent, agentId } = await this.deps.sandboxes.running(auth, id, "read metrics of");
    const live = await callAgent("read metrics", () =>
      agent.getSandboxMetrics({ sandboxId: agentId, range: proto }),
    );
    const latestStored = stored.at(-1)?.ts.getTime() ?? 0;
    const fresh = fromProto(live.series?.points ?? []).filter((p) => p.ts.getTime() > latestStored);
    return { range, tier, points: [...stored, ...fresh] };
  }
}
