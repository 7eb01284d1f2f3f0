/**
 * Just enough QEMU microvm handling to boot a guest image in tests: a KVM probe that
 * really runs a guest, the machine arguments, and a child process with a serial log.
 * The host agent has its own full VMM driver; this stays test-sized on purpose.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./exec.ts";
import { GUEST_NETWORK } from "./guest-config.ts";

/** The QEMU binary for x86-64 guests. */
export const QEMU_BINARY = "qemu-system-x86_64";

/**
 * Machine type and CPU. ACPI stays on: the Debian cloud kernel lacks
 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so ACPI is how it finds the virtio-mmio devices.
 */
export function machineArgs(accel: "kvm" | "tcg"): string[] {
  return ["-M", `microvm,accel=${accel},rtc=on`, "-cpu", accel === "kvm" ? "host" : "max"];
}

/**
 * Kernel parameters a TCG guest needs. microvm's ACPI is "hardware reduced", so the
 * kernel ignores the PIT and has no HPET/PM timer: when its timing-sensitive PIT
 * calibration of the TSC fails (it does on a busy host), boot hangs before userspace.
 * Under TCG the guest TSC is the host TSC, so telling the guest the host's TSC rate
 * (`tsc_early_khz`) skips that calibration. KVM guests get it from kvm-clock instead.
 */
export async function tcgKernelArgs(): Promise<string[]> {
  const khz = await hostTscKhz();
  return khz ? [`tsc_early_khz=${khz}`] : [];
}

/**
 * The host's TSC frequency in kHz, from /proc/cpuinfo (undefined when unknown). On hosts
 * whose "cpu MHz" follows frequency scaling it is only approximate: the guest clock then
 * drifts a little, which does not matter for booting.
 */
export async function hostTscKhz(): Promise<number | undefined> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : undefined;
}

let kvmProbe: Promise<boolean> | undefined;

/**
 * True when QEMU can really run a guest with KVM here: boots `kernel` without a root
 * filesystem and expects it to get as far as its panic. Opening /dev/kvm is not enough
 * (nested setups accept it, then abort with "failed to set MSR"). Cached per process.
 */
export function kvmWorks(kernel: string): Promise<boolean> {
  kvmProbe ??= (async () => {
    if (!existsSync("/dev/kvm")) return false;
    const dir = await mkdtemp(join(tmpdir(), "wrenn-kvm-probe-"));
    try {
      const log = join(dir, "serial.log");
      await run("timeout", [
        "20",
        QEMU_BINARY,
        ...machineArgs("kvm"),
        "-m",
        "128",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        `file:${log}`,
        "-kernel",
        kernel,
        "-append",
        "console=ttyS0 panic=-1",
      ]).catch(() => undefined);
      const out = existsSync(log) ? await readFile(log, "utf8") : "";
      return /Kernel panic|VFS: Unable to mount root/.test(out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return kvmProbe;
}

/** A host loopback port forwarded to a port on the guest's fixed address. */
export interface PortForward {
  hostPort: number;
  guestPort: number;
}

/** Options for {@link startGuest}. */
export interface StartGuestOptions {
  kernel: string;
  initrd: string;
  /** Root disk (qcow2). */
  disk: string;
  cmdline: string;
  serialLog: string;
  /** Host loopback ports forwarded to the guest's fixed address. */
  forwards: PortForward[];
  accel: "kvm" | "tcg";
  memoryMiB?: number;
  vcpus?: number;
}

/**
 * Starts QEMU as a child process with one virtio-mmio disk and one virtio-mmio NIC on
 * user-mode networking whose gateway is the guest's fixed gateway, so the guest's
 * built-in network configuration works unchanged and the host reaches it via `hostfwd`.
 */
export function startGuest(opts: StartGuestOptions): ChildProcess {
  const net = [
    "user",
    "id=n0",
    "net=169.254.0.0/24",
    `host=${GUEST_NETWORK.gateway}`,
    "restrict=on",
    ...opts.forwards.map(
      (f) => `hostfwd=tcp:127.0.0.1:${f.hostPort}-${GUEST_NETWORK.address}:${f.guestPort}`,
    ),
  ].join(",");
  return spawn(
    QEMU_BINARY,
    [
      ...machineArgs(opts.accel),
      "-m",
      String(opts.memoryMiB ?? 512),
      "-smp",
      String(opts.vcpus ?? 1),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      `file:${opts.serialLog}`,
      "-kernel",
      opts.kernel,
      "-initrd",
      opts.initrd,
      "-append",
      opts.cmdline,
      "-drive",
      `id=root,file=${opts.disk},format=qcow2,if=none`,
      "-device",
      "virtio-blk-device,drive=root",
      "-netdev",
      net,
      "-device",
      "virtio-net-device,netdev=n0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
}
