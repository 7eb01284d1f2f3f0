import { describe, expect, it } from "vitest";
import { clockTicksPerSecond, parseCpuTicks, parseRssBytes, readCpuTicks, readRssBytes } from "./proc.ts";

describe("proc parsing", () => {
  it("reads utime + stime even when the command name contains spaces and parentheses", () => {
    const stat = "4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 3 0 99 1000 200";
    expect(parseCpuTicks(stat)).toBe(1234 + 567);
    expect(() => parseCpuTicks("garbage")).toThrow(/malformed/);
  });

  it("reads VmRSS in bytes", () => {
    expect(parseRssBytes("Name:\tqemu\nVmRSS:\t  20480 kB\nVmSwap:\t0 kB\n")).toBe(20480 * 1024);
    expect(parseRssBytes("Name:\tkthreadd\n")).toBe(0);
  });

  it("reads this process's own counters", async () => {
    expect(clockTicksPerSecond()).toBeGreaterThan(0);
    expect(await readCpuTicks(process.pid)).toBeGreaterThan(0);
    expect(await readRssBytes(process.pid)).toBeGreaterThan(10 << 20);
  });
});
