import { api } from "./client.ts";

/** The ranges `GET /v1/sandboxes/stats?range=` accepts, shortest first (the order of the range picker). */
export const STATS_RANGES = ["5m", "1h", "6h", "24h", "30d"] as const;

/** One of {@link STATS_RANGES}. */
export type StatsRange = (typeof STATS_RANGES)[number];

/** Counts of the team's sandboxes at one moment. */
export interface StatsNow {
  running: number;
  paused: number;
  vcpus_running: number;
  memory_mb_running: number;
}

/** One sampler point (every 10 s, downsampled per range). */
export interface StatsPoint {
  t: string;
  running: number;
  paused: number;
  vcpus: number;
  memory_mb: number;
}

/** `GET /v1/sandboxes/stats`. */
export interface TeamStats {
  range: StatsRange;
  current: StatsNow;
  /** The highest value of each count over the range. */
  peak: StatsNow;
  series: StatsPoint[];
}

/** The current team's sandbox counts now, at their peak, and over time for `range`. */
export function getTeamStats(range: StatsRange, signal?: AbortSignal): Promise<TeamStats> {
  return api("GET", "/v1/sandboxes/stats", { query: { range }, signal });
}
