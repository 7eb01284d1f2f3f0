import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isWrennError } from "@wrenn/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QmpClient, QmpError } from "./qmp.ts";

// A real QEMU with no machine (`-M none`): starts in milliseconds and speaks real QMP.
let dir: string;
let qemu: ChildProcess;
let client: QmpClient | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "wrenn-qmp-"));
  qemu = spawn(
    "qemu-system-x86_64",
    [
      "-M",
      "none",
      "-nodefaults",
      "-display",
      "none",
      "-S",
      "-qmp",
      `unix:${join(dir, "qmp.sock")},server=on,wait=off`,
    ],
    { stdio: "ignore" },
  );
});

afterEach(async () => {
  client?.close();
  client = undefined;
  if (qemu.exitCode === null) {
    qemu.kill("SIGKILL");
    await new Promise((r) => qemu.once("exit", r));
  }
  await rm(dir, { recursive: true, force: true });
});

describe("QmpClient against QEMU", () => {
  it("negotiates capabilities and runs typed commands", async () => {
    client = await QmpClient.connect(join(dir, "qmp.sock"));
    const version = await client.execute("query-version");
    expect(version.qemu.major).toBeGreaterThanOrEqual(7);
    expect((await client.execute("query-status")).status).toBe("prelaunch");
  });

  it("correlates concurrent commands with their answers", async () => {
    client = await QmpClient.connect(join(dir, "qmp.sock"));
    const [a, b, c] = await Promise.all([
      client.execute("query-status"),
      client.execute("query-version"),
      client.execute("query-migrate"),
    ]);
    expect(a.running).toBe(false);
    expect(b.qemu.major).toBeGreaterThanOrEqual(7);
    expect(c).toBeTypeOf("object");
  });

  it("turns QMP errors into QmpError", async () => {
    client = await QmpClient.connect(join(dir, "qmp.sock"));
    const err = await client.execute("migrate-incoming", { uri: "exec:true" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect((err as QmpError).errorClass).toBe("GenericError");
  });

  it("delivers events and rejects pending commands when QEMU exits", async () => {
    client = await QmpClient.connect(join(dir, "qmp.sock"));
    const shutdown = client.waitForEvent("SHUTDOWN", 5_000);
    await client.execute("quit");
    expect((await shutdown).event).toBe("SHUTDOWN");
    await new Promise((r) => qemu.once("exit", r));
    await expect(client.execute("query-status")).rejects.toThrow(/closed/);
    expect(client.isClosed).toBe(true);
  });

  it("fails to connect within its timeout when nothing listens", async () => {
    const err = await QmpClient.connect(join(dir, "nothing.sock"), 300).catch((e: unknown) => e);
    // A coded error whose message (sent to clients) keeps the host's paths out; the cause has them.
    expect(isWrennError(err)).toBe(true);
    expect(err).toMatchObject({ code: "internal", message: "the VM's control socket did not answer" });
    expect(String((err as Error).cause)).toMatch(/nothing\.sock timed out/);
  });
});
