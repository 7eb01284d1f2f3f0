import { errors } from "@wrenn/common";
import type { SandboxRecord } from "./types.ts";

/** The parts of a record the inactivity timeout (TTL) depends on. */
export type TtlFields = Pick<SandboxRecord, "state" | "timeoutSec" | "lastActiveAt">;

/**
 * Milliseconds left before a sandbox auto-pauses at `now` (0 or less = due);
 * undefined when it never auto-pauses: not running, or timeout 0.
 */
export function ttlRemainingMs(record: TtlFields, now: number): number | undefined {
  if (record.state !== "running" || record.timeoutSec <= 0) return undefined;
  return Date.parse(record.lastActiveAt) + record.timeoutSec * 1000 - now;
}

/** True when a running sandbox's inactivity reached its timeout at `now`. */
export function isIdle(record: TtlFields, now: number): boolean {
  const left = ttlRemainingMs(record, now);
  return left !== undefined && left <= 0;
}

/**
 * A new inactivity timeout in whole seconds (0 = never). The control plane
 * enforces its own product limits; the agent only refuses values that are not
 * a time span at all.
 */
export function checkTimeoutSec(timeoutSec: number): number {
  if (!Number.isInteger(timeoutSec) || timeoutSec < 0 || timeoutSec > 0xffff_ffff) {
    throw errors.invalidArgument("timeout_sec must be a whole number of seconds, 0 or more");
  }
  return timeoutSec;
}

/**
 * Applies a ping to a record at `now`: restarts the inactivity countdown and,
 * when `timeoutSec` is given, replaces the timeout in the same step, so a
 * shortened timeout counts from the change, not from the last activity before it.
 */
export function applyPing(record: TtlFields, now: Date, timeoutSec?: number): void {
  if (timeoutSec !== undefined) record.timeoutSec = checkTimeoutSec(timeoutSec);
  record.lastActiveAt = now.toISOString();
}
