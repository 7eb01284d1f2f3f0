import { describe, expect, it } from "vitest";
import { formatSampleTime, isStatsRange, parseStatsSearch, pollIntervalMs, STATS_RANGES } from "./range.ts";

describe("stats range", () => {
  it("keeps a known range from the URL and falls back to 1h for anything else", () => {
    for (const r of STATS_RANGES) expect(parseStatsSearch({ range: r })).toEqual({ range: r });
    expect(parseStatsSearch({})).toEqual({ range: "1h" });
    expect(parseStatsSearch({ range: "2h" })).toEqual({ range: "1h" });
    expect(parseStatsSearch({ range: 5 })).toEqual({ range: "1h" });
    expect(isStatsRange("30d")).toBe(true);
    expect(isStatsRange("30D")).toBe(false);
  });

  it("polls at the sampler's pace for short ranges and rarely for 30 days", () => {
    expect(pollIntervalMs("5m")).toBe(10_000);
    expect(pollIntervalMs("1h")).toBe(10_000);
    expect(pollIntervalMs("24h")).toBeGreaterThan(pollIntervalMs("1h"));
    expect(pollIntervalMs("30d")).toBeGreaterThan(pollIntervalMs("24h"));
  });

  it("labels samples with seconds, minutes or dates by range", () => {
    const t = "2026-03-04T05:06:07Z";
    expect(formatSampleTime(t, "5m", "UTC")).toBe("05:06:07");
    expect(formatSampleTime(t, "24h", "UTC")).toBe("05:06");
    expect(formatSampleTime(t, "30d", "UTC")).toMatch(/4 Mar.*05/);
  });
});
