/**
 * How Wrenn runs QEMU microvm on this machine, in one place: the accelerator (a KVM probe that
 * really runs a guest, TCG otherwise), the CPU model and the kernel parameters each
 * accelerator needs. The host agent's VMM driver takes its flags from here
 * (`@wrenn/images/qemu-boot`); the rest of the file is a test-sized guest boot with a serial
 * log. Not an image pipeline input (see `inputs.ts`): changing it builds no new image.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { access, constants } from "node:fs/promises";
import { GUEST_NETWORK } from "./guest-config.ts";

/** The QEMU binary for x86-64 guests. */
export const QEMU_BINARY = "qemu-system-x86_64";

/** No default devices, no user config, no display, exit instead of reboot: every Wrenn VM starts so. */
export const HEADLESS_ARGS: readonly string[] = [
  "-nodefaults",
  "-no-user-config",
  "-display",
  "none",
  "-no-reboot",
];

/** The accelerator a VM runs with. */
export type Accel = "kvm" | "tcg";

/** The accelerator setting (`WRENN_ACCEL`): `auto` probes KVM and falls back to TCG. */
export type AccelSetting = "auto" | Accel;

/** Parses `WRENN_ACCEL`; anything but `kvm`/`tcg` means `auto`. */
export function parseAccelSetting(value: string | undefined): AccelSetting {
  return value === "kvm" || value === "tcg" ? value : "auto";
}

/** The CPU model: the host's own under KVM, QEMU's fullest emulated one under TCG. */
export function cpuModel(accel: Accel): "host" | "max" {
  return accel === "kvm" ? "host" : "max";
}

/**
 * The `-accel` value: KVM as is; TCG with a translation cache of `tbSizeMb` MiB when given
 * (QEMU's default otherwise).
 */
export function accelOption(accel: Accel, tbSizeMb?: number): string {
  if (accel === "kvm") return "kvm";
  return tbSizeMb === undefined ? "tcg" : `tcg,tb-size=${tbSizeMb}`;
}

/**
 * Machine type and CPU of a test boot. ACPI stays on: the Debian cloud kernel lacks
 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so ACPI is how it finds the virtio-mmio devices.
 */
export function machineArgs(accel: Accel): string[] {
  return ["-M", "microvm,rtc=on", "-accel", accelOption(accel), "-cpu", cpuModel(accel)];
}

let tscKhz: number | undefined;

/**
 * The host's TSC frequency in kHz, from /proc/cpuinfo (undefined when unknown; read once).
 * On hosts whose "cpu MHz" follows frequency scaling it is only approximate: the guest
 * clock then drifts a little, which does not matter for booting.
 */
export function hostTscKhz(): number | undefined {
  if (tscKhz === undefined) {
    let mhz = 0;
    try {
      mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? 0);
    } catch {
      // Not Linux /proc: leave calibration to the guest.
    }
    tscKhz = Math.round(mhz * 1000);
  }
  return tscKhz > 0 ? tscKhz : undefined;
}

/**
 * Kernel parameters a TCG guest needs. microvm's ACPI is "hardware reduced", so the
 * kernel ignores the PIT and has no HPET/PM timer: when its timing-sensitive PIT
 * calibration of the TSC fails (it does on a busy host), boot hangs before userspace.
 * Under TCG the guest TSC is the host TSC, so telling the guest the host's TSC rate
 * (`tsc_early_khz`) skips that calibration. KVM guests get it from kvm-clock instead.
 */
export function tcgKernelArgs(): string[] {
  const khz = hostTscKhz();
  return khz ? [`tsc_early_khz=${khz}`] : [];
}

const kvmProbes = new Map<string, Promise<boolean>>();

/**
 * True when QEMU with KVM really runs a guest kernel here. Opening `/dev/kvm` is not
 * enough: on nested PVM hosts it opens and creates VMs, yet QEMU aborts with `failed to
 * set MSR 0x10a`. So `kernel` is booted until it prints its banner on the serial console.
 * Cached per binary and kernel for the process.
 */
export function kvmWorks(kernel: string, qemuBinary = QEMU_BINARY): Promise<boolean> {
  const key = `${qemuBinary}\0${kernel}`;
  let probe = kvmProbes.get(key);
  if (!probe) {
    probe = runKvmProbe(qemuBinary, kernel);
    kvmProbes.set(key, probe);
  }
  return probe;
}

async function runKvmProbe(qemuBinary: string, kernel: string): Promise<boolean> {
  try {
    await access("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    const child = spawn(
      qemuBinary,
      [
        "-M",
        "microvm,accel=kvm",
        "-cpu",
        cpuModel("kvm"),
        "-m",
        "128",
        ...HEADLESS_ARGS,
        "-serial",
        "stdio",
        "-kernel",
        kernel,
        "-append",
        "console=ttyS0 panic=-1 earlyprintk=ttyS0",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 8_000);
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      if (output.includes("Linux version")) finish(true);
    });
    child.on("error", () => finish(false));
    child.on("exit", () => finish(false));
  });
}

/** The accelerator for `setting`: `kvm` and `tcg` are taken as given, `auto` probes with `kernel`. */
export async function resolveAccel(
  setting: AccelSetting,
  qemuBinary: string,
  kernel: string,
): Promise<Accel> {
  if (setting !== "auto") return setting;
  return (await kvmWorks(kernel, qemuBinary)) ? "kvm" : "tcg";
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
  accel: Accel;
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
      ...HEADLESS_ARGS,
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
