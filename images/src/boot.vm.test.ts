/**
 * Smoke test of the built guest image on a real QEMU microvm (KVM when a probe really
 * boots a guest, TCG otherwise). It proves the initramfs found the virtio disk, wrenn-init
 * ran (hostname and network from the kernel command line, markers on the serial console)
 * and a guest program answers over the network: envd's `GET /health` → 204, reached from
 * the host through QEMU user networking forwarded to the guest's fixed address.
 *
 * The image is built by `scripts/test` beforehand; a missing image or QEMU fails the test.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "./exec.ts";
import { ENVD_PORT, GUEST_NETWORK, guestKernelCmdline } from "./guest-config.ts";
import { kvmWorks, QEMU_BINARY, startGuest, tcgKernelArgs } from "./qemu-boot.ts";
import { type GuestImage, resolveGuestImage } from "./resolve.ts";

const BOOT_DEADLINE_MS = 240_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

describe("guest image boots under QEMU microvm", () => {
  const hostname = `smoke-${process.pid}`;
  let image: GuestImage;
  let workDir: string;
  let serialLog: string;
  let qemu: ChildProcess | undefined;
  let qemuStderr = "";
  let accel: "kvm" | "tcg";
  let hostPort: number;
  let startedAt: number;

  // Setup runs in beforeAll but its failure is re-thrown by each test, so a missing image
  // or QEMU shows up as failed tests rather than as tests skipped behind a failed hook.
  let setup: Promise<void>;
  beforeAll(() => {
    setup = (async () => {
      image = await resolveGuestImage();
      await run(QEMU_BINARY, ["--version"]);
      workDir = await mkdtemp(join(tmpdir(), "wrenn-boot-test-"));
      serialLog = join(workDir, "serial.log");
      // A copy-on-write overlay keeps the shared base image untouched.
      const disk = join(workDir, "root.qcow2");
      await run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", image.rootfs, "-F", "raw", disk]);
      accel = (await kvmWorks(image.kernel)) ? "kvm" : "tcg";
      hostPort = await freePort();
      startedAt = performance.now();
      qemu = startGuest({
        kernel: image.kernel,
        initrd: image.initrd,
        disk,
        cmdline: guestKernelCmdline({ hostname, extra: accel === "tcg" ? tcgKernelArgs() : [] }),
        serialLog,
        forwards: [{ hostPort, guestPort: ENVD_PORT }],
        accel,
      });
      qemu.stderr?.setEncoding("utf8").on("data", (c: string) => {
        qemuStderr += c;
      });
    })();
    setup.catch(() => undefined);
  });

  afterAll(async () => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      qemu.kill("SIGTERM");
      await Promise.race([exited(qemu), sleep(5_000)]);
      if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill("SIGKILL");
      await exited(qemu);
    }
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  async function serial(): Promise<string> {
    return readFile(serialLog, "utf8").catch(() => "");
  }

  function assertRunning(): void {
    if (!qemu || qemu.exitCode !== null || qemu.signalCode !== null) {
      throw new Error(`QEMU exited (${qemu?.exitCode ?? qemu?.signalCode}): ${qemuStderr}`);
    }
  }

  it("answers GET /health on the guest's envd port from the host", {
    timeout: BOOT_DEADLINE_MS + 10_000,
  }, async () => {
    await setup;
    const deadline = performance.now() + BOOT_DEADLINE_MS;
    let status = 0;
    while (status !== 204 && performance.now() < deadline) {
      assertRunning();
      try {
        const res = await fetch(`http://127.0.0.1:${hostPort}/health`, {
          signal: AbortSignal.timeout(2_000),
        });
        status = res.status;
      } catch {
        // Not up yet: user networking accepts and then resets until the guest listens.
        await sleep(250);
      }
    }
    const bootSeconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    if (status !== 204) {
      throw new Error(
        `no 204 from guest /health within ${BOOT_DEADLINE_MS} ms (last ${status}):\n${await serial()}`,
      );
    }
    console.log(`guest image ${image.hash} (${accel}) answered /health ${bootSeconds} s after QEMU started`);
    expect(status).toBe(204);
  });

  it("ran wrenn-init with the hostname and network from the kernel command line", {
    timeout: BOOT_DEADLINE_MS + 10_000,
  }, async () => {
    await setup;
    const deadline = performance.now() + BOOT_DEADLINE_MS;
    let log = await serial();
    while (!log.includes("wrenn-init: starting envd") && performance.now() < deadline) {
      assertRunning();
      await sleep(250);
      log = await serial();
    }
    expect(log).toContain(`wrenn-init: hostname=${hostname}`);
    expect(log).toContain(
      `wrenn-init: network ${GUEST_NETWORK.interface} ip=${GUEST_NETWORK.address}/${GUEST_NETWORK.prefixLength} gw=${GUEST_NETWORK.gateway}`,
    );
    expect(log).toContain("wrenn-init: starting envd");
    expect(log).not.toContain("wrenn-initramfs:");
  });
});
