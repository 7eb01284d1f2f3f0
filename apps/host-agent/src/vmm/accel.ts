import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";

/** The accelerator setting: `auto` probes KVM and falls back to TCG. */
export type AccelSetting = "auto" | "kvm" | "tcg";

/** The accelerator actually used. */
export type Accel = "kvm" | "tcg";

/** Parses `WRENN_ACCEL`; anything but `kvm`/`tcg` means `auto`. */
export function parseAccelSetting(value: string | undefined): AccelSetting {
  return value === "kvm" || value === "tcg" ? value : "auto";
}

const probes = new Map<string, Promise<boolean>>();

/**
 * True when QEMU with `accel=kvm` really runs a guest kernel here. Opening
 * `/dev/kvm` is not enough: on nested PVM hosts it opens and creates VMs, yet
 * QEMU aborts with `failed to set MSR 0x10a`. So we boot the kernel until it
 * prints its banner on the serial console. Cached per kernel for the process.
 */
export function kvmWorks(qemuBinary: string, kernel: string): Promise<boolean> {
  const key = `${qemuBinary}\0${kernel}`;
  let probe = probes.get(key);
  if (!probe) {
    probe = runKvmProbe(qemuBinary, kernel);
    probes.set(key, probe);
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
        "host",
        "-m",
        "128",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
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

/** Resolves the accelerator for `setting`: `kvm` and `tcg` are taken as given, `auto` probes. */
export async function resolveAccel(
  setting: AccelSetting,
  qemuBinary: string,
  kernel: string,
): Promise<Accel> {
  if (setting !== "auto") return setting;
  return (await kvmWorks(qemuBinary, kernel)) ? "kvm" : "tcg";
}
