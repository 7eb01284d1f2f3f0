import { randomUUID } from "node:crypto";
import type { Logger } from "@wrenn/common";
import type { Redis } from "ioredis";

// Keeps the lease when this process holds it, takes it when nobody does. A new holder gets the
// next fencing token (a counter that only grows), so work can tell a stale holder from the current one.
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if holder then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * The periodic jobs that must run once across control planes: one lease each. (Each process's own
 * mTLS client certificate renewal is per process by nature; channel delivery shares work through
 * its Redis consumer group.)
 */
export const periodicJobs = ["host-monitor", "stats-sampler", "e2b-deadlines"] as const;
/** A periodic job's lease name. */
export type PeriodicJob = (typeof periodicJobs)[number];

/**
 * Leases in Redis for periodic jobs, so that with several control planes on one PostgreSQL and
 * Redis each pass runs in exactly one process. A process runs a pass only while it holds the job's
 * lease; each pass renews it. A holder that dies (kill -9) stops renewing and another process takes
 * the job over once the lease expires (`ttlMs`, a few intervals). Each acquisition gets a new
 * fencing token, returned to the pass.
 */
export class JobLeases {
  /** This process's identity in leases. */
  readonly owner = `${process.pid}:${randomUUID()}`;
  readonly #held = new Set<PeriodicJob>();

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  private keys(job: PeriodicJob): [string, string] {
    return [`wrenn:lease:${job}`, `wrenn:lease:${job}:fence`];
  }

  /** The fencing token when this process holds (or just took) `job`'s lease for `ttlMs`; else undefined. */
  async acquire(job: PeriodicJob, ttlMs: number): Promise<number | undefined> {
    const token = (await this.redis.eval(ACQUIRE, 2, ...this.keys(job), this.owner, String(ttlMs))) as number;
    if (token < 0) {
      if (this.#held.delete(job)) this.log.warn({ job }, "lost a job lease to another control plane");
      return undefined;
    }
    if (!this.#held.has(job)) {
      this.#held.add(job);
      this.log.info({ job, fence: token }, "took a job lease");
    }
    return token;
  }

  /**
   * Wraps one pass of `job`: it runs only in the process holding the lease. When Redis cannot be
   * reached the pass is skipped (running it twice is worse than running it late).
   */
  gate<T>(
    job: PeriodicJob,
    ttlMs: number,
    pass: (fence: number) => Promise<T>,
  ): () => Promise<T | undefined> {
    return async () => {
      const fence = await this.acquire(job, ttlMs).catch((err: unknown) => {
        this.log.warn({ err, job }, "job lease unavailable; skipping this pass");
        return undefined;
      });
      return fence === undefined ? undefined : pass(fence);
    };
  }

  /** Gives up every lease this process holds (clean shutdown: another process takes over at once). */
  async releaseAll(): Promise<void> {
    for (const job of this.#held) {
      await this.redis.eval(RELEASE, 1, this.keys(job)[0], this.owner).catch(() => undefined);
    }
    this.#held.clear();
  }
}

/** A lease lasts this many intervals of its job, so a live holder renews it well before it lapses. */
export function leaseTtlMs(intervalMs: number): number {
  return Math.max(intervalMs * 3, 5_000);
}
