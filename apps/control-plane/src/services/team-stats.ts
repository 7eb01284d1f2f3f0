import { currentTeamUsage, type Database, listTeamUsage, type TeamUsage } from "@wrenn/db";
import { type StatsRange, statsRanges } from "../stats/ranges.ts";
import { currentTeamAccess } from "./access.ts";
import type { AuthContext } from "./auth-context.ts";

/** One point of the stats series. */
export interface TeamStatsPoint extends TeamUsage {
  t: Date;
}

/** The team stats view of one range. */
export interface TeamStats {
  range: StatsRange;
  /** Now, from the sandbox rows themselves. */
  current: TeamUsage;
  /** The highest value of each field over the range (including now). */
  peak: TeamUsage;
  /** Evenly spaced buckets covering the range, oldest first; the last one holds now. */
  series: TeamStatsPoint[];
}

// An empty bucket this soon after a sample repeats it: the sampler's 10 s ticks do not line up
// with the buckets, so short buckets are sometimes skipped. A longer gap means no sampler ran
// (the control plane was down) and reads as zero.
const CARRY_FORWARD_MS = 30_000;

const zero: TeamUsage = { running: 0, paused: 0, vcpus: 0, memoryMb: 0 };

/** The team usage view (`GET /v1/sandboxes/stats`), from the stats sampler's samples. */
export class TeamStatsService {
  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The caller's team's stats over `range`. */
  async stats(auth: AuthContext, range: StatsRange): Promise<TeamStats> {
    const { team } = await currentTeamAccess(this.db, auth);
    const { spanSec, bucketSec } = statsRanges[range];
    const bucketMs = bucketSec * 1000;
    const count = Math.round(spanSec / bucketSec);
    const lastStart = Math.floor(this.now().getTime() / bucketMs) * bucketMs;
    const firstStart = lastStart - (count - 1) * bucketMs;
    const [samples, current] = await Promise.all([
      listTeamUsage(this.db, team.id, new Date(firstStart), bucketSec),
      currentTeamUsage(this.db, team.id),
    ]);
    const byStart = new Map(samples.map((p) => [p.t.getTime(), p]));
    const series: TeamStatsPoint[] = [];
    let carried: { from: number; usage: TeamUsage } | undefined;
    for (let start = firstStart; start <= lastStart; start += bucketMs) {
      const hit = byStart.get(start);
      if (hit) carried = { from: start, usage: usageOf(hit) };
      const usage = hit
        ? usageOf(hit)
        : carried && start - carried.from <= CARRY_FORWARD_MS
          ? carried.usage
          : zero;
      series.push({ t: new Date(start), ...usage });
    }
    const peak = { ...current };
    for (const p of series) {
      for (const k of Object.keys(peak) as (keyof TeamUsage)[]) peak[k] = Math.max(peak[k], p[k]);
    }
    return { range, current, peak, series };
  }
}

function usageOf(p: TeamUsage): TeamUsage {
  return { running: p.running, paused: p.paused, vcpus: p.vcpus, memoryMb: p.memoryMb };
}
