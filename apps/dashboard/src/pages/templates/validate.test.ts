import { describe, expect, it } from "vitest";
import { sortTemplates, templateNameProblem } from "./validate.ts";

describe("template names", () => {
  it("accepts empty (generated) and safe names, refuses path-like ones", () => {
    expect(templateNameProblem("")).toBeNull();
    expect(templateNameProblem("my-env_1.2")).toBeNull();
    expect(templateNameProblem("../etc")).not.toBeNull();
    expect(templateNameProblem("a..b")).not.toBeNull();
    expect(templateNameProblem("has space")).not.toBeNull();
    expect(templateNameProblem("-x")).not.toBeNull();
    expect(templateNameProblem("x".repeat(64))).not.toBeNull();
  });

  it("lists the team's newest first, then the platform's by name", () => {
    const t = (name: string, platform: boolean, created_at: string) => ({ name, platform, created_at });
    const sorted = sortTemplates([
      t("zeta", true, "2026-01-01T00:00:00Z"),
      t("old", false, "2026-01-01T00:00:00Z"),
      t("alpha", true, "2026-01-03T00:00:00Z"),
      t("new", false, "2026-01-02T00:00:00Z"),
    ]);
    expect(sorted.map((x) => x.name)).toEqual(["new", "old", "alpha", "zeta"]);
  });
});
