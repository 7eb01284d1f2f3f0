import { readFile, rename, writeFile } from "node:fs/promises";
import { errors } from "@wrenn/common";
import type { VmmFingerprint } from "../vmm/types.ts";

/** Bumped whenever the on-disk template layout changes incompatibly. */
export const SNAPSHOT_FORMAT = 1;

/**
 * Everything a restore must match, recorded when a template snapshot is
 * captured. Written last (atomically), so a generation without it is incomplete.
 */
export interface SnapshotMetadata {
  format: number;
  vcpus: number;
  memoryMb: number;
  /** Size of the template's base disk; sandbox disks are never smaller. */
  diskBytes: number;
  /** Kernel parameters the guest booted with (network configuration among them). */
  kernelArgs: string;
  /** Hash of the guest image the template descends from. */
  imageHash: string;
  /** Size in bytes of the kernel and initrd copied into the generation (a cheap identity check). */
  kernelBytes: number;
  initrdBytes: number;
  vmm: VmmFingerprint;
  /** Network provider kind of the capture VM: its VMM network backend is part of the device state. */
  networkKind: string;
  envdVersion: string;
  /**
   * The access token envd already holds in the captured RAM (snapshots of
   * sandboxes): the first `/init` after a restore must present it.
   */
  envdAccessToken?: string;
  /** Where it came from: `image` or `sandbox:<id>`. */
  source: string;
  createdAt: string;
}

/** Reads a generation's metadata; undefined when missing (an incomplete generation). */
export async function readMetadata(path: string): Promise<SnapshotMetadata | undefined> {
  try {
    const meta = JSON.parse(await readFile(path, "utf8")) as SnapshotMetadata;
    return meta.format === SNAPSHOT_FORMAT ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** Writes metadata atomically (temp file + rename), which marks a generation complete. */
export async function writeMetadata(path: string, meta: SnapshotMetadata): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** The differences between what a snapshot was captured with and what this host runs now. */
export function compatibilityProblems(
  meta: SnapshotMetadata,
  current: VmmFingerprint,
  networkKind: string,
): string[] {
  const problems: string[] = [];
  if (meta.networkKind !== networkKind) problems.push(`network ${meta.networkKind} ≠ ${networkKind}`);
  if (meta.vmm.driver !== current.driver) problems.push(`driver ${meta.vmm.driver} ≠ ${current.driver}`);
  if (meta.vmm.version !== current.version) problems.push(`VMM "${meta.vmm.version}" ≠ "${current.version}"`);
  if (meta.vmm.accel !== current.accel) problems.push(`accelerator ${meta.vmm.accel} ≠ ${current.accel}`);
  if (meta.vmm.machine !== current.machine)
    problems.push(`machine "${meta.vmm.machine}" ≠ "${current.machine}"`);
  return problems;
}

/** Throws `failed_precondition` naming every mismatch, instead of letting a restore hang or crash. */
export function assertCompatible(
  meta: SnapshotMetadata,
  current: VmmFingerprint,
  networkKind: string,
  what: string,
): void {
  const problems = compatibilityProblems(meta, current, networkKind);
  if (problems.length > 0) {
    throw errors.failedPrecondition(`${what} was captured on an incompatible VMM: ${problems.join("; ")}`);
  }
}
