import { describe, expect, it } from "vitest";
import { createTestLogger, takeRecentLogs } from "./recent-logs.ts";

describe("createTestLogger", () => {
  it("keeps warnings and errors (redacted like every Wrenn log) until taken, and no info lines", () => {
    takeRecentLogs();
    const log = createTestLogger("recent-logs-test");
    log.info("routine");
    log.error({ err: new Error("disk full"), password: "hunter2" }, "build failed");
    log.warn("slow step");
    const lines = takeRecentLogs();
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ msg: "build failed", err: { message: "disk full" } });
    expect(lines[0]).not.toContain("hunter2");
    expect(JSON.parse(lines[1] ?? "")).toMatchObject({ msg: "slow step" });
    expect(takeRecentLogs()).toEqual([]);
  });
});
