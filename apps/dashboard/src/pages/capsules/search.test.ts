import { describe, expect, it } from "vitest";
import {
  breadcrumbs,
  childPath,
  normalizePath,
  validateCapsuleSearch,
  validateCapsulesSearch,
} from "./search.ts";

describe("capsules list search params", () => {
  it("keeps known states, safe template names and cursors; drops the rest", () => {
    expect(validateCapsulesSearch({ state: "paused", template: "my-env.v2", cursor: "sb-1" })).toEqual({
      state: "paused",
      template: "my-env.v2",
      cursor: "sb-1",
    });
    expect(validateCapsulesSearch({ state: "exploded", template: "../etc", cursor: 5 })).toEqual({});
  });
});

describe("capsule detail search params", () => {
  it("accepts the metrics ranges of the API and the tabs, and normalizes the path", () => {
    for (const range of ["5m", "10m", "1h", "2h", "6h", "12h", "24h"]) {
      expect(validateCapsuleSearch({ range }).range).toBe(range);
    }
    expect(validateCapsuleSearch({ range: "30d", tab: "secrets", path: "relative" })).toEqual({});
    expect(validateCapsuleSearch({ tab: "files", path: "/home//user/../user/./x" })).toEqual({
      tab: "files",
      path: "/home/user/x",
    });
  });
});

describe("paths", () => {
  it("normalizes, splits into breadcrumbs, and refuses child names that escape", () => {
    expect(normalizePath("/../..")).toBe("/");
    expect(breadcrumbs("/home/user")).toEqual([
      { name: "/", path: "/" },
      { name: "home", path: "/home" },
      { name: "user", path: "/home/user" },
    ]);
    expect(childPath("/home/user", "a b.txt")).toBe("/home/user/a b.txt");
    expect(() => childPath("/home/user", "../x")).toThrow();
    expect(() => childPath("/home/user", "..")).toThrow();
    expect(() => childPath("/home/user", "")).toThrow();
  });
});
