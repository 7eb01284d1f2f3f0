import { STATS_RANGES, type StatsRange } from "../../api/stats.ts";

// The API module owns the range list (it is what the endpoint accepts); the page logic re-exports it.
export { STATS_RANGES, type StatsRange };

/** The range a bare `/stats` URL shows: long enough to see a trend, short enough to move while you watch. */
export const DEFAULT_STATS_RANGE: StatsRange = "1h";

/** Human labels for the range picker. */
export const RANGE_LABELS: Record<StatsRange, string> = {
  "5m": "5 min",
  "1h": "1 hour",
  "6h": "6 hours",
  "24h": "24 hours",
  "30d": "30 days",
};

/** Whether `value` names a range the API accepts. */
export function isStatsRange(value: unknown): value is StatsRange {
  return typeof value === "string" && (STATS_RANGES as readonly string[]).includes(value);
}

/**
 * The `/stats` page's search params from whatever the URL holds: an unknown or missing range
 * falls back to the default instead of an error, so a hand-edited or old link still opens.
 */
export function parseStatsSearch(search: Record<string, unknown>): { range: StatsRange } {
  return { range: isStatsRange(search.range) ? search.range : DEFAULT_STATS_RANGE };
}

/**
 * How often the page refetches for a range. The sampler writes a point every 10 s, so short ranges
 * poll at that pace; a 30-day chart has one point per few hours and need not be refetched as often.
 */
export function pollIntervalMs(range: StatsRange): number {
  switch (range) {
    case "5m":
    case "1h":
      return 10_000;
    case "6h":
    case "24h":
      return 30_000;
    case "30d":
      return 300_000;
  }
}

/**
 * The x-axis label of a sample: clock time with seconds only where points are seconds apart,
 * a date once the range spans days. `timeZone` is for tests; the browser's zone is used otherwise.
 */
export function formatSampleTime(iso: string, range: StatsRange, timeZone?: string): string {
  const d = new Date(iso);
  const zone = timeZone ? { timeZone } : {};
  if (range === "30d") {
    return d.toLocaleString("en-GB", { month: "short", day: "numeric", hour: "2-digit", ...zone });
  }
  if (range === "24h" || range === "6h") {
    return d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", ...zone });
  }
  return d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", ...zone });
}
