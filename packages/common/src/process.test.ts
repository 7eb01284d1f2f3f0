import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isProcessAlive } from "./process.ts";

describe("isProcessAlive", () => {
  it("is true for a running process and false once it has exited and been reaped", async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    const child = spawn(process.execPath, ["-e", "0"]);
    const pid = child.pid as number;
    await new Promise((r) => child.once("exit", r));
    expect(isProcessAlive(pid)).toBe(false);
  });

  it("counts a process of another user (EPERM) as alive", () => {
    // pid 1 (init) belongs to root: a non-root caller gets EPERM, root gets success; alive either way.
    expect(isProcessAlive(1)).toBe(true);
  });
});
