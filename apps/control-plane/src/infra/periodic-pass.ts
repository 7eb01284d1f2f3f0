import type { Logger } from "@wrenn/common";
import { type JobLeases, leaseTtlMs, type PeriodicJob } from "./job-lease.ts";

/** What a {@link PeriodicPass} runs and how it reports a failed timed pass. */
export interface PeriodicPassOptions<T> {
  /** The job's lease name, used when started with leases. */
  job: PeriodicJob;
  /** One pass of the job. */
  run: () => Promise<T>;
  log: Logger;
  /** Log message of a timed pass that threw (a timer has nobody else to tell). */
  failure: string;
}

/** How a {@link PeriodicPass} timer runs. */
export interface PeriodicStart<T> {
  /** Several control planes: only the process holding the job's lease runs timed passes. */
  leases?: JobLeases;
  /** Also start a pass now, not only after the first interval. */
  runAtOnce?: boolean;
  /**
   * What a timed pass calls; default {@link PeriodicPass.tick}. Owners pass their own public
   * `tick`, so timed passes go through the same entry point as callers (and tests spying on it).
   */
  tick?: () => Promise<T>;
}

/**
 * The timer of one periodic job: passes never overlap (a tick while one runs joins it), `stop`
 * waits for the pass in progress, and with {@link JobLeases} (several control planes) only the
 * process holding the job's lease runs timed passes. Shared by the host monitor, the stats
 * sampler and the E2B expiry pass so the three cannot drift apart.
 */
export class PeriodicPass<T> {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<T> | undefined;

  constructor(private readonly options: PeriodicPassOptions<T>) {}

  /** Runs a pass every `intervalMs` until {@link stop}. */
  start(intervalMs: number, how: PeriodicStart<T> = {}): void {
    if (this.#timer) return;
    const tick = how.tick ?? (() => this.tick());
    const pass = how.leases ? how.leases.gate(this.options.job, leaseTtlMs(intervalMs), tick) : tick;
    const timed = () => {
      pass().catch((err) => this.options.log.error({ err }, this.options.failure));
    };
    this.#timer = setInterval(timed, intervalMs);
    this.#timer.unref();
    if (how.runAtOnce) timed();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One pass now; a pass still running is joined, not doubled. */
  tick(): Promise<T> {
    this.#running ??= this.options.run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }
}
