import { describe, expect, it } from "vitest";
import { chartColumns, formatMemoryMb } from "./series.ts";

describe("stats chart columns", () => {
  it("orders samples oldest first and converts memory to GiB", () => {
    const cols = chartColumns(
      [
        { t: "2026-01-01T00:00:20Z", running: 2, paused: 1, vcpus: 4, memory_mb: 2048 },
        { t: "2026-01-01T00:00:10Z", running: 1, paused: 0, vcpus: 2, memory_mb: 512 },
      ],
      "5m",
      "UTC",
    );
    expect(cols.labels).toEqual(["00:00:10", "00:00:20"]);
    expect(cols.running).toEqual([1, 2]);
    expect(cols.paused).toEqual([0, 1]);
    expect(cols.vcpus).toEqual([2, 4]);
    expect(cols.memoryGiB).toEqual([0.5, 2]);
  });

  it("handles an empty series", () => {
    expect(chartColumns([], "1h").labels).toEqual([]);
  });

  it("formats memory for the cards", () => {
    expect(formatMemoryMb(0)).toBe("0 MiB");
    expect(formatMemoryMb(512)).toBe("512 MiB");
    expect(formatMemoryMb(1024)).toBe("1 GiB");
    expect(formatMemoryMb(1536)).toBe("1.5 GiB");
    expect(formatMemoryMb(20480)).toBe("20 GiB");
  });
});
