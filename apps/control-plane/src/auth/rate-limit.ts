import { errors } from "@wrenn/common";
import type { Redis } from "ioredis";

/** Fixed-window counters in Redis: `limit` hits per `windowSec` per key. */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly windowSec: number,
  ) {}

  /**
   * Counts one hit for every `[bucket, limit]` pair and throws
   * `resource_exhausted` when any of them is over its limit.
   */
  async hit(name: string, buckets: [key: string, limit: number][]): Promise<void> {
    const window = Math.floor(Date.now() / 1000 / this.windowSec);
    const multi = this.redis.multi();
    for (const [key] of buckets) {
      const k = `rl:${name}:${key}:${window}`;
      multi.incr(k).expire(k, this.windowSec + 1);
    }
    const results = (await multi.exec()) ?? [];
    buckets.forEach(([, limit], i) => {
      const [err, count] = results[i * 2] ?? [];
      if (err) throw errors.unavailable("rate limiter unavailable", err);
      if (typeof count === "number" && count > limit) {
        throw errors.resourceExhausted(`too many ${name} attempts; try again in a minute`);
      }
    });
  }
}
