import { clockTicksPerSecond, diskUsageBytes, readCpuTicks, readRssBytes } from "./proc.ts";
import { type MetricPoint, type MetricsRange, TieredSeries, type TierSnapshot } from "./tiered-series.ts";

/** Options of {@link MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Sampling interval (default 500 ms). */
  intervalMs?: number;
  /** Wall clock in ms; injectable for tests. */
  now?: () => number;
  /** Root of the proc filesystem (default `/proc`). */
  procRoot?: string;
}

interface Tracked {
  pid: number;
  diskPath: string;
  series: TieredSeries;
  /** CPU ticks and wall time of the previous sample; CPU % needs a delta. */
  last?: { ticks: number; at: number };
}

/**
 * Samples every tracked VM process (CPU %, RSS, overlay disk usage) at a fixed interval and
 * keeps each sandbox's history in a {@link TieredSeries}. The manager calls `track` when a VM
 * process starts (create, resume), `flush` + `untrack` on pause and destroy.
 */
export class MetricsRegistry {
  private readonly sandboxes = new Map<string, Tracked>();
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly procRoot: string;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(options: MetricsRegistryOptions = {}) {
    this.intervalMs = options.intervalMs ?? 500;
    this.now = options.now ?? Date.now;
    this.procRoot = options.procRoot ?? "/proc";
  }

  /**
   * Starts (or re-points, after a resume gave the sandbox a new process) sampling of
   * `sandboxId`'s VM process `pid` and its overlay disk `diskPath`. History is kept.
   */
  track(sandboxId: string, pid: number, diskPath: string): void {
    if (!Number.isInteger(pid) || pid <= 0) throw new RangeError("pid must be a positive integer");
    const existing = this.sandboxes.get(sandboxId);
    if (existing) {
      existing.pid = pid;
      existing.diskPath = diskPath;
      existing.last = undefined;
    } else {
      this.sandboxes.set(sandboxId, { pid, diskPath, series: new TieredSeries() });
    }
  }

  /** Stops sampling `sandboxId` and drops its history. */
  untrack(sandboxId: string): void {
    this.sandboxes.delete(sandboxId);
  }

  /** True when `sandboxId` is tracked. */
  has(sandboxId: string): boolean {
    return this.sandboxes.has(sandboxId);
  }

  /** Points for `range` (oldest first), or null when the sandbox is not tracked. */
  get(sandboxId: string, range: MetricsRange): MetricPoint[] | null {
    return this.sandboxes.get(sandboxId)?.series.query(range, this.now()) ?? null;
  }

  /**
   * Every tier of `sandboxId`'s history (open averaging windows included), emptied afterwards;
   * null when not tracked. Sampling continues until {@link untrack}.
   */
  flush(sandboxId: string): TierSnapshot | null {
    return this.sandboxes.get(sandboxId)?.series.flush() ?? null;
  }

  /** Starts periodic sampling (idempotent). The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sampleAll(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops periodic sampling. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Takes one sample of every tracked sandbox. A sandbox's first sample only sets the CPU
   * baseline. A process that has exited is skipped (the manager untracks it). Overlapping
   * calls are dropped so a slow disk cannot pile samplers up.
   */
  async sampleAll(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      await Promise.all([...this.sandboxes.values()].map((tracked) => this.sample(tracked)));
    } finally {
      this.sampling = false;
    }
  }

  private async sample(tracked: Tracked): Promise<void> {
    const { pid, diskPath } = tracked;
    let reading: [number, number, number];
    try {
      reading = await Promise.all([
        readCpuTicks(pid, this.procRoot),
        readRssBytes(pid, this.procRoot),
        diskUsageBytes(diskPath).catch(() => 0),
      ]);
    } catch {
      return;
    }
    const [ticks, memBytes, diskBytes] = reading;
    // The sandbox may have been re-pointed to a new process while we were reading.
    if (tracked.pid !== pid) return;
    const at = this.now();
    const last = tracked.last;
    tracked.last = { ticks, at };
    if (!last || at <= last.at || ticks < last.ticks) return;
    const cpuSeconds = (ticks - last.ticks) / clockTicksPerSecond();
    const cpuPercent = (cpuSeconds / ((at - last.at) / 1000)) * 100;
    tracked.series.add({ ts: at, cpuPercent, memBytes, diskBytes });
  }
}
