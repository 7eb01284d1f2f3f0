import { errors, WrennError } from "@wrenn/common";
import type { Redis } from "ioredis";

/** How long failed attempts of one account from one address are remembered after the last one. */
export const FAILURE_MEMORY_SEC = 3600;
/** The longest wait one account+address pair is ever asked for. */
export const MAX_BACKOFF_SEC = 900;
/** How long an address an account signed in from stays known to it (spared the per-address budget). */
export const KNOWN_ADDRESS_SEC = 30 * 86400;

/** Settings of {@link LoginThrottle}. */
export interface LoginThrottleSettings {
  /** Failed attempts per account+address before each further failure adds a doubling wait. */
  freeFailures: number;
  /** Failed attempts per address (any accounts) per window: password spraying from one place. */
  perIpFailures: number;
  windowSec: number;
  now?: () => number;
}

/**
 * Login throttling as identity systems do it: failures, never successes, are counted; per account
 * and client address, so nobody elsewhere can lock an account out; after `freeFailures` each failure
 * doubles a wait (1 s, 2 s, 4 s … up to {@link MAX_BACKOFF_SEC}); a success clears the pair. A
 * separate per-address budget of failures stops one address spraying many accounts; it spares an
 * account that signed in from that address before (OWASP's "device cookie" idea, keyed by address),
 * so a sprayer behind a shared proxy or NAT cannot lock out its regular users. Refusals are
 * `resource_exhausted` with `retry_after_sec` (the HTTP layer sends it as `Retry-After`).
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly settings: LoginThrottleSettings,
  ) {}

  private now(): number {
    return this.settings.now?.() ?? Date.now();
  }

  private pairKey(account: string, ip: string): string {
    return `login:pair:${account}:${ip}`;
  }

  private knownKey(account: string, ip: string): string {
    return `login:known:${account}:${ip}`;
  }

  private ipKey(ip: string, window: number): string {
    return `login:ip:${ip}:${window}`;
  }

  private window(now: number): number {
    return Math.floor(now / 1000 / this.settings.windowSec);
  }

  /** Refuses an attempt while the pair waits out its backoff or the address spent its failures. */
  async check(account: string, ip: string): Promise<void> {
    const now = this.now();
    const window = this.window(now);
    const [until, ipFailures, known] = await this.redis
      .multi()
      .hget(this.pairKey(account, ip), "until")
      .get(this.ipKey(ip, window))
      .exists(this.knownKey(account, ip))
      .exec()
      .then((r) => (r ?? []).map(([err, v]) => (err ? Promise.reject(err) : v)))
      .catch((err: unknown) => {
        throw errors.unavailable("login throttle unavailable", err);
      });
    const waitMs = Number(until ?? 0) - now;
    if (waitMs > 0) throw refused(Math.ceil(waitMs / 1000));
    if (Number(ipFailures ?? 0) >= this.settings.perIpFailures && Number(known) === 0) {
      const windowEnd = (window + 1) * this.settings.windowSec * 1000;
      throw refused(Math.max(1, Math.ceil((windowEnd - now) / 1000)));
    }
  }

  /** Records a failed attempt (wrong password or unknown account). */
  async failed(account: string, ip: string): Promise<void> {
    const now = this.now();
    const pair = this.pairKey(account, ip);
    const ipKey = this.ipKey(ip, this.window(now));
    const results = await this.redis
      .multi()
      .hincrby(pair, "fails", 1)
      .expire(pair, FAILURE_MEMORY_SEC)
      .incr(ipKey)
      .expire(ipKey, this.settings.windowSec + 1)
      .exec();
    const fails = Number(results?.[0]?.[1] ?? 0);
    const over = fails - this.settings.freeFailures;
    if (over > 0) {
      const waitSec = Math.min(2 ** (over - 1), MAX_BACKOFF_SEC);
      await this.redis.hset(pair, "until", String(now + waitSec * 1000));
    }
  }

  /**
   * A successful login clears the pair's failures and makes the address known to the account; it
   * never counts against anything.
   */
  async succeeded(account: string, ip: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.pairKey(account, ip))
      .set(this.knownKey(account, ip), "1", "EX", KNOWN_ADDRESS_SEC)
      .exec();
  }
}

function refused(retryAfterSec: number) {
  return new WrennError(
    "resource_exhausted",
    `too many failed login attempts; try again in ${retryAfterSec} s`,
    { details: { retry_after_sec: retryAfterSec } },
  );
}
