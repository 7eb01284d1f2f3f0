import { type ChildProcess, execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { guestKernelCmdline, resolveGuestImage, startGuest, tcgKernelArgs } from "@wrenn/images";
import { freePort } from "@wrenn/testing/host-envd";

/** A guest booted from the Wrenn image, with host ports forwarded to it. */
export interface BootedGuest {
  /** `http://127.0.0.1:<port>` reaching envd's :49983 in the guest. */
  envdUrl: string;
  /** Host URL forwarded to `guestPort` on the guest's address (for the port-forwarding test). */
  forwardedUrl: string;
  guestPort: number;
  /** Milliseconds from starting QEMU until envd answered /health. */
  bootToHealthMs: number;
  /** The guest's serial console so far (wrenn-init and envd log lines). */
  serialLog(): Promise<string>;
  stop(): Promise<void>;
}

const ENVD_GUEST_PORT = 49983;
const FORWARD_GUEST_PORT = 8123;

/**
 * Boots the newest guest image under QEMU microvm with TCG (KVM cannot run a
 * guest on our CI machines). The shared rootfs is never written: the guest
 * gets a qcow2 overlay in a temp dir. User-mode networking uses the guest's
 * fixed gateway so the image's built-in network setup works unchanged.
 * Throws (so the VM tests fail, never skip) when the image or QEMU is missing.
 */
export async function bootGuest(): Promise<BootedGuest> {
  const image = await resolveGuestImage();
  const dir = await mkdtemp(join(tmpdir(), "envd-vm-"));
  const overlay = join(dir, "root.qcow2");
  const serialLog = join(dir, "serial.log");
  let qemu: ChildProcess | undefined;
  const stop = async () => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      const exited = new Promise((resolve) => qemu?.once("exit", resolve));
      qemu.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await promisify(execFile)("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-b",
      image.rootfs,
      "-F",
      "raw",
      overlay,
    ]);
    const envdPort = await freePort();
    const forwardPort = await freePort();
    const started = performance.now();
    qemu = startGuest({
      kernel: image.kernel,
      initrd: image.initrd,
      disk: overlay,
      cmdline: guestKernelCmdline({ extra: tcgKernelArgs() }),
      serialLog,
      forwards: [
        { hostPort: envdPort, guestPort: ENVD_GUEST_PORT },
        { hostPort: forwardPort, guestPort: FORWARD_GUEST_PORT },
      ],
      accel: "tcg",
      memoryMiB: 1024,
      vcpus: 2,
    });
    let qemuError = "";
    qemu.stderr?.on("data", (data) => {
      qemuError += data;
    });
    const spawnFailure = new Promise<never>((_, reject) => {
      qemu?.once("error", (err) => reject(new Error(`cannot start QEMU: ${err.message}`)));
      qemu?.once("exit", (code) => reject(new Error(`QEMU exited with ${code}: ${qemuError}`)));
    });
    spawnFailure.catch(() => undefined);
    const envdUrl = `http://127.0.0.1:${envdPort}`;
    const deadline = Date.now() + 180_000;
    const healthy = (async () => {
      while (Date.now() < deadline) {
        const res = await fetch(`${envdUrl}/health`, { signal: AbortSignal.timeout(2000) }).catch(
          () => undefined,
        );
        if (res?.status === 204) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const log = await readFile(serialLog, "utf8").catch(() => "");
      throw new Error(
        `envd in the guest did not answer /health within 180 s; serial log:\n${log.slice(-4000)}`,
      );
    })();
    await Promise.race([healthy, spawnFailure]);
    return {
      envdUrl,
      forwardedUrl: `http://127.0.0.1:${forwardPort}`,
      guestPort: FORWARD_GUEST_PORT,
      bootToHealthMs: performance.now() - started,
      serialLog: () => readFile(serialLog, "utf8").catch(() => ""),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
