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

  it("runs another user through sudo, keeping the environment, in that user's home", () => {
    const start = execStart(["id -u"], { user: "root", envs: { X: "1" } });
    expect(start).toEqual({
      cmd: "sudo",
      args: ["-E", "-H", "-u", "root", "--", "/bin/bash", "-l", "-c", "cd ~ || exit 1\nid -u"],
      envs: { X: "1" },
    });
    // An explicit --cwd is where it starts.
    expect(execStart(["pwd"], { user: "root", cwd: "/srv" }).args?.at(-1)).toBe("pwd");
  });
});
