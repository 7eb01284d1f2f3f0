import { describe, expect, it } from "vitest";
import { intFlag, keyValues, listFlag, parse, positionalArgs } from "./args.ts";
import { UsageError } from "./errors.ts";

describe("parse", () => {
  it("reads flags, positionals and everything after -- untouched", () => {
    const p = parse(["sb-1", "--json", "--cwd", "/tmp", "--", "ls", "--json", "-la"], {
      cwd: { type: "string" },
    });
    expect(p.values.json).toBe(true);
    expect(p.values.cwd).toBe("/tmp");
    expect(p.positionals).toEqual(["sb-1"]);
    expect(p.rest).toEqual(["ls", "--json", "-la"]);
    expect(p.hasDash).toBe(true);
  });

  it("defaults --json to false and reports no dash", () => {
    const p = parse(["x"], {});
    expect(p.values.json).toBe(false);
    expect(p.hasDash).toBe(false);
  });

  it("turns unknown flags and missing values into usage errors", () => {
    expect(() => parse(["--nope"], {})).toThrow(UsageError);
    expect(() => parse(["--nope"], {})).toThrow(/Unknown option '--nope'/);
    expect(() => parse(["--cwd"], { cwd: { type: "string" } })).toThrow(UsageError);
  });

  it("collects repeatable flags", () => {
    const p = parse(["--env", "A=1", "--env", "B=2"], { env: { type: "string", multiple: true } });
    expect(p.values.env).toEqual(["A=1", "B=2"]);
  });
});

describe("helpers", () => {
  it("positionalArgs names what is missing or extra", () => {
    expect(positionalArgs(["a"], ["id"])).toEqual(["a"]);
    expect(() => positionalArgs([], ["id"])).toThrow("missing <id>");
    expect(() => positionalArgs(["a", "b"], ["id"])).toThrow("unexpected argument 'b'");
    expect(positionalArgs(["a", "b"], ["id"], ["path"])).toEqual(["a", "b"]);
  });

  it("keyValues splits at the first = and rejects pairs without a key", () => {
    expect(keyValues("env", ["A=1", "B=x=y", "C="])).toEqual({ A: "1", B: "x=y", C: "" });
    expect(keyValues("env", [])).toBeUndefined();
    expect(() => keyValues("metadata", ["novalue"])).toThrow("--metadata needs KEY=VALUE, got 'novalue'");
    expect(() => keyValues("env", ["=1"])).toThrow(UsageError);
  });

  it("intFlag checks range and digits", () => {
    expect(intFlag("vcpus", "2", 1, 8)).toBe(2);
    expect(intFlag("vcpus", undefined, 1, 8)).toBeUndefined();
    expect(() => intFlag("vcpus", "9", 1, 8)).toThrow("--vcpus needs a whole number from 1 to 8, got '9'");
    expect(() => intFlag("vcpus", "1.5", 1, 8)).toThrow(UsageError);
    expect(() => intFlag("vcpus", "-1", 1, 8)).toThrow(UsageError);
  });

  it("listFlag accepts commas and repeats", () => {
    expect(listFlag(["running,paused", " stopped "])).toEqual(["running", "paused", "stopped"]);
    expect(listFlag(undefined)).toBeUndefined();
  });
});
