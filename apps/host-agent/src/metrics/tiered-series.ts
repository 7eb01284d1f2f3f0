import { errors } from "@wrenn/common";
import { RingBuffer } from "./ring-buffer.ts";

/** One sample (or the average of several) of a sandbox's resource use. */
export interface MetricPoint {
  /** Milliseconds since the epoch: the sample time, or for an average the start of its window. */
  ts: number;
  /** CPU used by the VM process, in percent of one host core (200 = two cores busy). */
  cpuPercent: number;
  /** Resident memory of the VM process (VmRSS), bytes. */
  memBytes: number;
  /** Real (allocated) size of the sandbox's overlay disk, bytes. */
  diskBytes: number;
}

/** The three retention tiers. */
export type MetricsTier = "10m" | "2h" | "24h";
/** The ranges clients ask for; each reads one tier with a time cutoff. */
export type MetricsRange = "5m" | "10m" | "1h" | "2h" | "6h" | "12h" | "24h";

/** Resolution and retention of each tier. */
export const TIER_SPECS: Readonly<Record<MetricsTier, { stepMs: number; retentionMs: number }>> = {
  /** Raw samples (one per sampler interval, 500 ms) for 10 minutes. */
  "10m": { stepMs: 500, retentionMs: 10 * 60_000 },
  /** 30-second averages for 2 hours. */
  "2h": { stepMs: 30_000, retentionMs: 2 * 3_600_000 },
  /** 5-minute averages for 24 hours. */
  "24h": { stepMs: 300_000, retentionMs: 24 * 3_600_000 },
};

/** Which tier serves a range, and how far back the range reaches. */
export const RANGE_TIERS: Readonly<Record<MetricsRange, { tier: MetricsTier; spanMs: number }>> = {
  "5m": { tier: "10m", spanMs: 5 * 60_000 },
  "10m": { tier: "10m", spanMs: 10 * 60_000 },
  "1h": { tier: "2h", spanMs: 3_600_000 },
  "2h": { tier: "2h", spanMs: 2 * 3_600_000 },
  "6h": { tier: "24h", spanMs: 6 * 3_600_000 },
  "12h": { tier: "24h", spanMs: 12 * 3_600_000 },
  "24h": { tier: "24h", spanMs: 24 * 3_600_000 },
};

/** Throws `invalid_argument` unless `range` is one of {@link RANGE_TIERS}' keys. */
export function assertMetricsRange(range: unknown): MetricsRange {
  if (typeof range !== "string" || !Object.hasOwn(RANGE_TIERS, range)) {
    throw errors.invalidArgument(`range must be one of ${Object.keys(RANGE_TIERS).join(", ")}`);
  }
  return range as MetricsRange;
}

/** Every tier's points, oldest first. */
export type TierSnapshot = Record<MetricsTier, MetricPoint[]>;

/** Sums raw points falling into one aligned window until the window is complete. */
class WindowAverager {
  private windowStart = Number.NaN;
  private count = 0;
  private cpu = 0;
  private mem = 0;
  private disk = 0;

  constructor(private readonly stepMs: number) {}

  /** Adds a point; returns the previous window's average when `point` opens a new window. */
  add(point: MetricPoint): MetricPoint | undefined {
    const windowStart = point.ts - (point.ts % this.stepMs);
    const completed = windowStart !== this.windowStart ? this.take() : undefined;
    this.windowStart = windowStart;
    this.count++;
    this.cpu += point.cpuPercent;
    this.mem += point.memBytes;
    this.disk += point.diskBytes;
    return completed;
  }

  /** The average of the open window (if any), and resets. */
  take(): MetricPoint | undefined {
    if (this.count === 0) return undefined;
    const average = {
      ts: this.windowStart,
      cpuPercent: this.cpu / this.count,
      memBytes: Math.round(this.mem / this.count),
      diskBytes: Math.round(this.disk / this.count),
    };
    this.count = this.cpu = this.mem = this.disk = 0;
    this.windowStart = Number.NaN;
    return average;
  }
}

/**
 * One sandbox's metric history: raw points in the 10-minute tier, and wall-clock-aligned
 * 30-second and 5-minute averages of them in the 2-hour and 24-hour tiers.
 */
export class TieredSeries {
  private readonly tiers: Record<MetricsTier, RingBuffer<MetricPoint>>;
  private readonly averagers: Record<"2h" | "24h", WindowAverager>;

  constructor() {
    const capacity = (tier: MetricsTier) => Math.ceil(TIER_SPECS[tier].retentionMs / TIER_SPECS[tier].stepMs);
    this.tiers = {
      "10m": new RingBuffer(capacity("10m")),
      "2h": new RingBuffer(capacity("2h")),
      "24h": new RingBuffer(capacity("24h")),
    };
    this.averagers = {
      "2h": new WindowAverager(TIER_SPECS["2h"].stepMs),
      "24h": new WindowAverager(TIER_SPECS["24h"].stepMs),
    };
  }

  /** Records a raw sample. Samples must arrive in time order. */
  add(point: MetricPoint): void {
    this.tiers["10m"].push(point);
    for (const tier of ["2h", "24h"] as const) {
      const completed = this.averagers[tier].add(point);
      if (completed) this.tiers[tier].push(completed);
    }
  }

  /** Points of `range`'s tier no older than `now - span`, oldest first. */
  query(range: MetricsRange, now: number): MetricPoint[] {
    const { tier, spanMs } = RANGE_TIERS[assertMetricsRange(range)];
    const cutoff = now - spanMs;
    return this.tiers[tier].toArray().filter((point) => point.ts >= cutoff);
  }

  /**
   * Returns every tier, including the averages of the still-open 30 s / 5 min windows (so a
   * pause loses nothing), and empties the series.
   */
  flush(): TierSnapshot {
    for (const tier of ["2h", "24h"] as const) {
      const partial = this.averagers[tier].take();
      if (partial) this.tiers[tier].push(partial);
    }
    const snapshot: TierSnapshot = {
      "10m": this.tiers["10m"].toArray(),
      "2h": this.tiers["2h"].toArray(),
      "24h": this.tiers["24h"].toArray(),
    };
    for (const buffer of Object.values(this.tiers)) buffer.clear();
    return snapshot;
  }
}
