import { describe, expect, it } from "vitest";
import {
  assignableRoles,
  emailProblem,
  moveHighlight,
  roleAtLeast,
  shouldSearch,
  teamAfterLeaving,
  teamNameProblem,
} from "./validate.ts";

describe("team form rules", () => {
  it("checks names like the API (trimmed, 1-100)", () => {
    expect(teamNameProblem("Research")).toBeNull();
    expect(teamNameProblem("   ")).toMatch(/Type/);
    expect(teamNameProblem("x".repeat(101))).toMatch(/100/);
    expect(teamNameProblem(` ${"x".repeat(100)} `)).toBeNull();
  });

  it("catches email typos before sending", () => {
    expect(emailProblem("ada@example.com")).toBeNull();
    expect(emailProblem("")).toMatch(/Type/);
    expect(emailProblem("ada@example")).toMatch(/not an email/);
    expect(emailProblem("ada example.com")).toMatch(/not an email/);
  });

  it("searches from three characters", () => {
    expect(shouldSearch("ad")).toBe(false);
    expect(shouldSearch(" ada ")).toBe(true);
  });

  it("ranks roles and lets only owners make owners", () => {
    expect(roleAtLeast("owner", "admin")).toBe(true);
    expect(roleAtLeast("member", "admin")).toBe(false);
    expect(roleAtLeast(null, "member")).toBe(false);
    expect(assignableRoles("owner")).toContain("owner");
    expect(assignableRoles("admin")).toEqual(["admin", "member"]);
    expect(assignableRoles("member")).toEqual([]);
  });
});

describe("leaving a team and the member search", () => {
  it("switches to the default team, else another, else none", () => {
    const teams = [{ id: "a", is_default: true }, { id: "b", is_default: false }, { id: "c" }];
    expect(teamAfterLeaving(teams, "b")?.id).toBe("a");
    expect(teamAfterLeaving(teams, "a")?.id).toBe("b");
    expect(teamAfterLeaving([{ id: "a" }], "a")).toBeUndefined();
  });

  it("moves the highlight with wrap-around", () => {
    expect(moveHighlight(-1, 3, "ArrowDown")).toBe(0);
    expect(moveHighlight(2, 3, "ArrowDown")).toBe(0);
    expect(moveHighlight(0, 3, "ArrowUp")).toBe(2);
    expect(moveHighlight(-1, 3, "ArrowUp")).toBe(2);
    expect(moveHighlight(0, 0, "ArrowDown")).toBe(-1);
  });
});
