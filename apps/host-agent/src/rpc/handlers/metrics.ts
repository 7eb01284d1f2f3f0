import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { errors } from "@wrenn/common";
import { hostagent } from "@wrenn/proto";
import type { MetricPoint, MetricsRange, MetricsRegistry, MetricsTier } from "../../metrics/index.ts";
import type { SandboxManager } from "../../sandbox/manager.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";

const rangeFromProto: Partial<Record<hostagent.MetricsRange, MetricsRange>> = {
  [hostagent.MetricsRange.METRICS_RANGE_5M]: "5m",
  [hostagent.MetricsRange.METRICS_RANGE_10M]: "10m",
  [hostagent.MetricsRange.METRICS_RANGE_1H]: "1h",
  [hostagent.MetricsRange.METRICS_RANGE_2H]: "2h",
  [hostagent.MetricsRange.METRICS_RANGE_6H]: "6h",
  [hostagent.MetricsRange.METRICS_RANGE_12H]: "12h",
  [hostagent.MetricsRange.METRICS_RANGE_24H]: "24h",
};

const tierToProto: Record<MetricsTier, hostagent.MetricsTier> = {
  "10m": hostagent.MetricsTier.METRICS_TIER_10M,
  "2h": hostagent.MetricsTier.METRICS_TIER_2H,
  "24h": hostagent.MetricsTier.METRICS_TIER_24H,
};

function toPoints(points: MetricPoint[]) {
  return points.map((p) => ({
    timestamp: timestampFromMs(p.ts),
    cpuPercent: p.cpuPercent,
    memoryRssBytes: BigInt(Math.round(p.memBytes)),
    diskBytes: BigInt(Math.round(p.diskBytes)),
  }));
}

/** Sandbox metrics: one range of samples, and the flush of every tier (before a pause or destroy). */
export function metricsHandlers(
  manager: SandboxManager,
  metrics: MetricsRegistry | undefined,
  { unary }: ErrorMapping,
): HandlersOf<"getSandboxMetrics" | "flushSandboxMetrics"> {
  const enabledMetrics = () => {
    if (!metrics) throw errors.unavailable("metrics are not enabled on this agent");
    return metrics;
  };
  return {
    getSandboxMetrics: unary("GetSandboxMetrics", (req: hostagent.GetSandboxMetricsRequest) => {
      manager.get(req.sandboxId);
      const range = rangeFromProto[req.range];
      if (!range) throw errors.invalidArgument("range is required");
      const points = enabledMetrics().get(req.sandboxId, range) ?? [];
      const tier =
        range === "5m" || range === "10m" ? "10m" : range === "1h" || range === "2h" ? "2h" : "24h";
      return { series: { tier: tierToProto[tier], points: toPoints(points) } };
    }),
    flushSandboxMetrics: unary("FlushSandboxMetrics", (req: hostagent.FlushSandboxMetricsRequest) => {
      manager.get(req.sandboxId);
      const snapshot = enabledMetrics().flush(req.sandboxId);
      const tiers: MetricsTier[] = ["10m", "2h", "24h"];
      return {
        series: tiers.map((tier) => ({ tier: tierToProto[tier], points: toPoints(snapshot?.[tier] ?? []) })),
      };
    }),
  };
}
