import type { Logger } from "@wrenn/common";
import {
  compactTeamUsageSamples,
  type Database,
  pruneTeamUsageSamples,
  recordTeamUsageSample,
} from "@wrenn/db";
import type { JobLeases } from "../infra/job-lease.ts";
import { PeriodicPass } from "../infra/periodic-pass.ts";

/** Default sampling interval (`STATS_SAMPLE_INTERVAL_SEC`). */
export const STATS_SAMPLE_INTERVAL_MS = 10_000;
/** Default retention (`STATS_RETENTION_DAYS`). */
export const STATS_RETENTION_DAYS = 60;

/**
 * Samples older than this are folded into 5-minute buckets: only the 24h (5 min) and 30d (3 h)
 * views reach that far back, and both read the highest sample per 5 minutes or a multiple of it,
 * so they show the same while 60 days cost ~17k rows per team instead of 518k.
 */
export const STATS_COMPACT_AFTER_MS = 24 * 3600_000;
/** Width of a folded bucket. */
export const STATS_COMPACT_BUCKET_SEC = 300;

/** What one sampler pass did. */
export interface SamplerReport {
  /** Team rows written. */
  sampled: number;
  /** Samples past retention deleted. */
  pruned: number;
  /** Samples folded into 5-minute buckets. */
  compacted: number;
}

/** Options of a {@link TeamStatsSampler}. */
export interface TeamStatsSamplerOptions {
  db: Database;
  log: Logger;
  /** Default {@link STATS_SAMPLE_INTERVAL_MS}. */
  intervalMs?: number;
  /** With several control planes: timed samples are taken only by the one holding the job's lease. */
  leases?: JobLeases;
  /** Default {@link STATS_RETENTION_DAYS}. */
  retentionDays?: number;
  /** Injected for tests. */
  now?: () => Date;
}

/**
 * Samples every team's sandbox usage (running, paused, vCPUs, memory) into
 * `sandbox_metrics_snapshots` for the stats view, and deletes samples past retention.
 * One {@link tick} is the whole job, so a caller that must run it once across several
 * control planes can wrap `tick()` in a lock instead of calling {@link start}.
 */
export class TeamStatsSampler {
  readonly #passes: PeriodicPass<SamplerReport>;
  // Samples before this (ms) are already folded; the first pass starts at the retention limit.
  #compactedUpTo: number | undefined;

  constructor(private readonly options: TeamStatsSamplerOptions) {
    this.#passes = new PeriodicPass({
      job: "stats-sampler",
      run: () => this.pass(),
      log: options.log,
      failure: "team stats sample failed",
    });
  }

  /** Samples every `intervalMs` (10 s) until {@link stop}; the first sample is taken at once. */
  start(): void {
    this.#passes.start(this.options.intervalMs ?? STATS_SAMPLE_INTERVAL_MS, {
      leases: this.options.leases,
      runAtOnce: true,
      tick: () => this.tick(),
    });
  }

  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void> {
    return this.#passes.stop();
  }

  /** One pass: a sample at now, then retention. A pass still running is joined, not doubled. */
  tick(): Promise<SamplerReport> {
    return this.#passes.tick();
  }

  private async pass(): Promise<SamplerReport> {
    const now = this.options.now?.() ?? new Date();
    // Whole seconds: a sample's time is its primary key with the team, and reads bucket by seconds.
    const at = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const sampled = await recordTeamUsageSample(this.options.db, at);
    const retentionMs = (this.options.retentionDays ?? STATS_RETENTION_DAYS) * 86_400_000;
    const pruned = await pruneTeamUsageSamples(this.options.db, new Date(at.getTime() - retentionMs));
    if (pruned) this.options.log.debug({ pruned }, "team stats samples past retention deleted");
    const bucketMs = STATS_COMPACT_BUCKET_SEC * 1000;
    const cutoff = Math.floor((at.getTime() - STATS_COMPACT_AFTER_MS) / bucketMs) * bucketMs;
    const from = this.#compactedUpTo ?? Math.floor((at.getTime() - retentionMs) / bucketMs) * bucketMs;
    let compacted = 0;
    if (cutoff > from) {
      compacted = await compactTeamUsageSamples(
        this.options.db,
        new Date(from),
        new Date(cutoff),
        STATS_COMPACT_BUCKET_SEC,
      );
      this.#compactedUpTo = cutoff;
    }
    return { sampled, pruned, compacted };
  }
}
