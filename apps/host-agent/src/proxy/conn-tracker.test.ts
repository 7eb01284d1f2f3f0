import { describe, expect, it } from "vitest";
import { ConnTracker } from "./conn-tracker.ts";

describe("ConnTracker", () => {
  it("counts leases and ignores double release", () => {
    const conns = new ConnTracker();
    const a = conns.acquire();
    const b = conns.acquire();
    expect(conns.active).toBe(2);
    a?.release();
    a?.release();
    expect(conns.active).toBe(1);
    b?.release();
    expect(conns.active).toBe(0);
  });

  it("drains immediately when idle and refuses new connections until reset", async () => {
    const conns = new ConnTracker();
    expect(await conns.drain(1000)).toBe(true);
    expect(conns.isDraining).toBe(true);
    expect(conns.acquire()).toBeNull();
    conns.reset();
    expect(conns.acquire()).not.toBeNull();
  });

  it("waits for in-flight connections to finish within the grace period", async () => {
    const conns = new ConnTracker();
    const lease = conns.acquire();
    setTimeout(() => lease?.release(), 50);
    const started = Date.now();
    expect(await conns.drain(5000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("aborts connections still open when the grace period ends", async () => {
    const conns = new ConnTracker();
    let aborted = 0;
    const lease = conns.acquire(() => {
      aborted++;
      lease?.release();
    });
    conns.acquire(() => aborted++);
    const started = Date.now();
    expect(await conns.drain(100)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(aborted).toBe(2);
  });
});
