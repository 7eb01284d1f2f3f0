/**
 * The time ranges of the team stats view. Each keeps the series at ≤ 300 points: the span is
 * cut into buckets of `bucketSec` (a multiple of the 10 s sampling interval).
 */
export const statsRanges = {
  "5m": { spanSec: 5 * 60, bucketSec: 10 },
  "1h": { spanSec: 3600, bucketSec: 15 },
  "6h": { spanSec: 6 * 3600, bucketSec: 90 },
  "24h": { spanSec: 24 * 3600, bucketSec: 300 },
  "30d": { spanSec: 30 * 86_400, bucketSec: 3 * 3600 },
} as const satisfies Record<string, { spanSec: number; bucketSec: number }>;

/** One of the {@link statsRanges} names. */
export type StatsRange = keyof typeof statsRanges;

/** The range names, shortest first (for validation and docs). */
export const statsRangeNames = Object.keys(statsRanges) as [StatsRange, ...StatsRange[]];
