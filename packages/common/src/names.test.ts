import { describe, expect, it } from "vitest";
import { WrennError } from "./errors.ts";
import { assertSafeName, isSafeName } from "./names.ts";

describe("assertSafeName", () => {
  it.each(["minimal", "my-template", "v1.2_3", "a"])("accepts %s", (name) => {
    expect(assertSafeName(name)).toBe(name);
  });
  it.each(["", "../x", "..", ".hidden", "a/b", "a\\b", "x".repeat(64), "with space", "-lead", "a..b"])(
    "rejects %j",
    (name) => {
      expect(() => assertSafeName(name)).toThrow(WrennError);
      expect(isSafeName(name)).toBe(false);
    },
  );
  it("rejects non-strings", () => {
    expect(() => assertSafeName(42)).toThrow(/letters, digits/);
  });
});
