import { describe, expect, it } from "vitest";
import type { BuildLog } from "../../api/builds.ts";
import { appendLogs, buildDraftProblems, duration, isFinished } from "./logic.ts";

const log = (id: number): BuildLog => ({ id, step: 1, stream: "stdout", message: `l${id}`, timestamp: "" });

describe("builds page logic", () => {
  it("checks the form before sending", () => {
    expect(buildDraftProblems({ name: "", kind: "recipe", source: "", from: "minimal" })).toEqual({
      name: "Name the template this build makes",
      source: "Write at least one step, e.g. RUN apt-get install -y curl",
    });
    expect(
      buildDraftProblems({ name: "../x", kind: "dockerfile", source: "FROM minimal", from: "" }).name,
    ).toMatch(/letters/);
    expect(buildDraftProblems({ name: "web", kind: "recipe", source: "RUN true", from: "minimal" })).toEqual(
      {},
    );
  });

  it("appends only lines it has not shown, capped", () => {
    const shown = [log(1), log(2)];
    expect(appendLogs(shown, [log(2), log(3)]).map((l) => l.id)).toEqual([1, 2, 3]);
    expect(appendLogs(shown, [log(1)])).toBe(shown);
    expect(appendLogs([], [log(1), log(2), log(3)], 2).map((l) => l.id)).toEqual([2, 3]);
  });

  it("knows when a build is over and how long it took", () => {
    expect(isFinished("building")).toBe(false);
    expect(isFinished("cancelled")).toBe(true);
    expect(duration(null, null)).toBe("—");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:01:05Z")).toBe("1 min 5 s");
    expect(duration("2026-01-01T00:00:00Z", "2026-01-01T00:00:09Z")).toBe("9 s");
    expect(duration("2026-01-01T00:00:00Z", null, Date.parse("2026-01-01T00:02:00Z"))).toBe("2 min");
  });
});
