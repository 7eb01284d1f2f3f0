import { describe, expect, it } from "vitest";
import { applyPing, checkTimeoutSec, isIdle, type TtlFields, ttlRemainingMs } from "./ttl.ts";

// A fixed clock: every instant below is T0 plus some seconds.
const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (sec: number) => T0 + sec * 1000;
const record = (over: Partial<TtlFields> = {}): TtlFields => ({
  state: "running",
  timeoutSec: 10,
  lastActiveAt: new Date(T0).toISOString(),
  ...over,
});

describe("inactivity countdown", () => {
  it("counts the timeout from the last activity and is due exactly when it runs out", () => {
    const r = record();
    expect(ttlRemainingMs(r, at(3))).toBe(7_000);
    expect(isIdle(r, at(9.999))).toBe(false);
    expect(isIdle(r, at(10))).toBe(true);
    expect(isIdle(r, at(3600))).toBe(true);
  });

  it("never fires for timeout 0 or a sandbox that is not running", () => {
    expect(ttlRemainingMs(record({ timeoutSec: 0 }), at(1e6))).toBeUndefined();
    for (const state of ["starting", "pausing", "paused", "stopping", "error"] as const) {
      expect(isIdle(record({ state }), at(1e6)), state).toBe(false);
    }
  });

  it("a ping restarts the countdown and keeps the timeout", () => {
    const r = record();
    applyPing(r, new Date(at(8)));
    expect(r.timeoutSec).toBe(10);
    expect(isIdle(r, at(17))).toBe(false);
    expect(isIdle(r, at(18))).toBe(true);
  });

  it("a ping with a shorter timeout counts it from the ping, not from the activity before", () => {
    // Idle 100 s under a 600 s timeout, then set to 5 s: due 5 s after the change, not at once.
    const r = record({ timeoutSec: 600 });
    applyPing(r, new Date(at(100)), 5);
    expect(r.timeoutSec).toBe(5);
    expect(isIdle(r, at(104))).toBe(false);
    expect(isIdle(r, at(105))).toBe(true);
  });

  it("a ping with timeout 0 turns auto-pause off, and a later one turns it back on", () => {
    const r = record({ timeoutSec: 5 });
    applyPing(r, new Date(at(1)), 0);
    expect(isIdle(r, at(1e6))).toBe(false);
    applyPing(r, new Date(at(50)), 5);
    expect(isIdle(r, at(55))).toBe(true);
  });

  it("refuses timeouts that are not whole non-negative seconds and leaves the record alone", () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 32]) {
      const r = record();
      expect(() => applyPing(r, new Date(at(5)), bad)).toThrow(/timeout_sec must be a whole number/);
      expect(r).toEqual(record());
    }
    expect(checkTimeoutSec(0)).toBe(0);
    expect(checkTimeoutSec(86_400)).toBe(86_400);
  });
});
