import { spawn } from "node:child_process";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { qmpSocketInCmdline, qmpSocketOfProcess, qmpSocketPath } from "./qmp-socket.ts";

describe("qmpSocketPath", () => {
  it("keeps the socket in a short run directory", () => {
    expect(qmpSocketPath("/var/lib/wrenn/sandboxes/sb-x")).toBe("/var/lib/wrenn/sandboxes/sb-x/qmp.sock");
  });

  it("moves it to a stable, distinct short name when the run directory is too deep for a socket address", () => {
    const team = "5d2e8c4a-0b1f-4c5e-9a7d-3e2f1a0b9c8d";
    const deep = (tpl: string) => `/var/lib/wrenn/templates/teams/${team}/${tpl}/gen-000001`;
    const a = qmpSocketPath(deep("0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"));
    const b = qmpSocketPath(deep("1f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"));
    expect(join(deep("0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"), "qmp.sock").length).toBeGreaterThan(107);
    expect(a.startsWith(join(tmpdir(), "wrenn-qmp-"))).toBe(true);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(107);
    expect(qmpSocketPath(deep("0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c"))).toBe(a);
    expect(b).not.toBe(a);
  });
});

describe("qmpSocketInCmdline", () => {
  it("reads the socket path of a -qmp unix: argument", () => {
    const args = [
      "qemu-system-x86_64",
      "-name",
      "wrenn-x",
      "-qmp",
      "unix:/tmp/wrenn-qmp-ab.sock,server=on,wait=off",
    ];
    expect(qmpSocketInCmdline(args)).toBe("/tmp/wrenn-qmp-ab.sock");
  });

  it("is undefined without a -qmp unix: argument", () => {
    expect(qmpSocketInCmdline(["qemu-system-x86_64", "-name", "wrenn-x"])).toBeUndefined();
    expect(qmpSocketInCmdline(["qemu-system-x86_64", "-qmp", "tcp:127.0.0.1:4444"])).toBeUndefined();
    expect(qmpSocketInCmdline(["qemu-system-x86_64", "-qmp"])).toBeUndefined();
  });
});

describe("qmpSocketOfProcess", () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill("SIGKILL");
  });

  // A real process whose command line carries QEMU's -qmp argument (no QEMU needed to read it).
  async function processWith(qmpArg: string): Promise<number> {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", "-qmp", qmpArg], {
      stdio: "ignore",
    });
    children.push(child);
    await once(child, "spawn");
    return child.pid ?? 0;
  }

  it("finds a socket outside the run directory under the name it was started with, after a rename", async () => {
    const pid = await processWith("unix:/tmp/wrenn-qmp-0123456789abcdef01234567.sock,server=on,wait=off");
    expect(await qmpSocketOfProcess(pid, "/var/lib/wrenn/sandboxes/renamed")).toBe(
      "/tmp/wrenn-qmp-0123456789abcdef01234567.sock",
    );
  });

  it("takes a socket inside the run directory from the directory's name today (it moved with it)", async () => {
    const pid = await processWith("unix:/var/lib/wrenn/sandboxes/warm.1/qmp.sock,server=on,wait=off");
    expect(await qmpSocketOfProcess(pid, "/var/lib/wrenn/sandboxes/sb-1")).toBe(
      "/var/lib/wrenn/sandboxes/sb-1/qmp.sock",
    );
  });
});
