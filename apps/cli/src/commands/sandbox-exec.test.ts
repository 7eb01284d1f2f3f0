import { describe, expect, it } from "vitest";
import { execStart } from "./sandbox-exec.ts";

describe("execStart", () => {
  it("sends one argument as a script and several as quoted words, for bash -l -c", () => {
    expect(execStart(["ls | wc -l"], {})).toEqual({ cmd: "ls | wc -l" });
    expect(execStart(["printf", "[%s]", "it's"], { cwd: "/tmp", timeoutSec: 5 })).toEqual({
      cmd: "printf '[%s]' 'it'\\''s'",
      cwd: "/tmp",
      timeout_sec: 5,
    });
  });

  it("names another user in the start message, with the environment kept", () => {
    expect(execStart(["id -u"], { user: "root", envs: { X: "1" } })).toEqual({
      cmd: "id -u",
      user: "root",
      envs: { X: "1" },
    });
  });
});
