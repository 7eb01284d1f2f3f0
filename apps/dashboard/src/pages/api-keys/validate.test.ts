import { describe, expect, it } from "vitest";
import { keyNameProblem } from "./validate.ts";

describe("API key name", () => {
  it("needs 1-100 characters after trimming", () => {
    expect(keyNameProblem("ci")).toBeNull();
    expect(keyNameProblem("  ")).toMatch(/name/);
    expect(keyNameProblem("x".repeat(101))).toMatch(/100/);
  });
});
