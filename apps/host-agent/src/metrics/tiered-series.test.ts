import { describe, expect, it } from "vitest";
import { assertMetricsRange, type MetricPoint, TieredSeries } from "./tiered-series.ts";

const T0 = Date.UTC(2026, 0, 1); // aligned on 5-minute boundaries
const STEP = 500;

/** Point number `i`: CPU equals the 30 s window index, so averages are easy to predict. */
function point(i: number): MetricPoint {
  return { ts: T0 + i * STEP, cpuPercent: Math.floor(i / 60), memBytes: 1000 + (i % 2), diskBytes: 5000 };
}

/** A series fed with `count` raw points every 500 ms; returns the time of the last one. */
function fed(count: number): { series: TieredSeries; now: number } {
  const series = new TieredSeries();
  for (let i = 0; i < count; i++) series.add(point(i));
  return { series, now: T0 + (count - 1) * STEP };
}

describe("TieredSeries", () => {
  it("keeps 10 minutes of raw points and cuts ranges by time", () => {
    const { series, now } = fed(3000); // 25 minutes
    const tenMinutes = series.query("10m", now);
    expect(tenMinutes).toHaveLength(1200);
    expect(tenMinutes[0]).toEqual(point(1800));
    expect(tenMinutes.at(-1)).toEqual(point(2999));
    const fiveMinutes = series.query("5m", now);
    expect(fiveMinutes[0]?.ts).toBe(now - 5 * 60_000);
    expect(fiveMinutes).toHaveLength(601);
  });

  it("averages raw points into aligned 30 s windows for the 2 h tier", () => {
    const { series, now } = fed(3000);
    const twoHours = series.query("2h", now);
    // 50 windows of 60 points; the 50th is still open, so 49 complete averages.
    expect(twoHours).toHaveLength(49);
    expect(twoHours[0]).toEqual({ ts: T0, cpuPercent: 0, memBytes: 1001, diskBytes: 5000 });
    expect(twoHours[10]).toEqual({ ts: T0 + 10 * 30_000, cpuPercent: 10, memBytes: 1001, diskBytes: 5000 });
    expect(series.query("1h", now)).toHaveLength(49);
  });

  it("averages into aligned 5 min windows for the 24 h tier and applies the range cutoff", () => {
    const { series, now } = fed(3000);
    const day = series.query("24h", now);
    // 25 minutes touch windows 0-4; window 4 is still open, so 4 averages are complete.
    expect(day).toHaveLength(4);
    // Window k holds 30 s windows 10k..10k+9 with CPU values averaging 10k + 4.5.
    expect(day.map((p) => p.cpuPercent)).toEqual([4.5, 14.5, 24.5, 34.5]);
    expect(day.map((p) => p.ts - T0)).toEqual([0, 300_000, 600_000, 900_000]);
    const later = now + 6 * 3_600_000;
    expect(series.query("6h", later)).toHaveLength(0);
    expect(series.query("12h", later)).toHaveLength(4);
  });

  it("drops 5 min averages older than 24 h", () => {
    const series = new TieredSeries();
    // One point per 5 minutes for 25 hours: each closes the previous window.
    for (let i = 0; i <= 300; i++) series.add({ ...point(0), ts: T0 + i * 300_000, cpuPercent: i });
    const day = series.query("24h", T0 + 300 * 300_000);
    expect(day).toHaveLength(288);
    expect(day.at(-1)?.cpuPercent).toBe(299);
  });

  it("flushes every tier including open windows, then starts empty", () => {
    const { series, now } = fed(90); // 45 s: one complete 30 s window and one open
    const flushed = series.flush();
    expect(flushed["10m"]).toHaveLength(90);
    expect(flushed["2h"].map((p) => [p.ts - T0, p.cpuPercent])).toEqual([
      [0, 0],
      [30_000, 1],
    ]);
    expect(flushed["24h"]).toEqual([{ ts: T0, cpuPercent: 30 / 90, memBytes: 1001, diskBytes: 5000 }]);
    expect(series.query("10m", now)).toEqual([]);
    expect(series.flush()).toEqual({ "10m": [], "2h": [], "24h": [] });
  });

  it("accepts only known ranges", () => {
    expect(assertMetricsRange("12h")).toBe("12h");
    for (const bad of ["30d", "", "toString", 5]) {
      expect(() => assertMetricsRange(bad)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    }
    expect(() => new TieredSeries().query("1d" as "1h", 0)).toThrow(/range must be one of/);
  });
});
