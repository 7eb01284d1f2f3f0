/** Per-sandbox resource metrics: a 500 ms sampler and tiered (10 min / 2 h / 24 h) history. */
export { clockTicksPerSecond, diskUsageBytes, readCpuTicks, readRssBytes } from "./proc.ts";
export { MetricsRegistry, type MetricsRegistryOptions } from "./registry.ts";
export {
  assertMetricsRange,
  type MetricPoint,
  type MetricsRange,
  type MetricsTier,
  RANGE_TIERS,
  TIER_SPECS,
  TieredSeries,
  type TierSnapshot,
} from "./tiered-series.ts";
