import { execFile } from "node:child_process";
import { stat, truncate } from "node:fs/promises";
import { promisify } from "node:util";
import { errors } from "@wrenn/common";

const run = promisify(execFile);

/** 1 MiB in bytes. */
export const MIB = 1024 * 1024;

/** Size of a disk image: what the guest sees versus what the host really stores. */
export interface DiskUsage {
  /** The size the guest sees (virtual size of a qcow2, file length of a raw image). */
  apparentBytes: number;
  /** Blocks really allocated on the host file system. */
  allocatedBytes: number;
}

/**
 * Creates a qcow2 overlay at `path` on the read-only `backing` image, with a
 * virtual size of `sizeBytes` (at least the backing size; qemu-img refuses smaller).
 */
export async function createOverlay(
  backing: string,
  backingFormat: "raw" | "qcow2",
  path: string,
  sizeBytes: number,
): Promise<void> {
  await run("qemu-img", [
    "create",
    "-q",
    "-f",
    "qcow2",
    "-b",
    backing,
    "-F",
    backingFormat,
    path,
    String(sizeBytes),
  ]);
}

/** Virtual size of a disk image according to qemu-img. */
export async function virtualSize(path: string): Promise<number> {
  const { stdout } = await run("qemu-img", ["info", "--output=json", "-U", path]);
  const info = JSON.parse(stdout) as { "virtual-size"?: number };
  if (typeof info["virtual-size"] !== "number")
    throw errors.internal(
      "could not read a disk's size",
      new Error(`qemu-img info gave no size for ${path}`),
    );
  return info["virtual-size"];
}

/** Apparent (guest-visible) and allocated size of one image file. */
export async function diskUsage(path: string): Promise<DiskUsage> {
  const st = await stat(path);
  const apparentBytes = path.endsWith(".qcow2") ? await virtualSize(path) : st.size;
  return { apparentBytes, allocatedBytes: st.blocks * 512 };
}

/** Bytes allocated on the host by one file (0 when it does not exist). */
export async function allocatedBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).blocks * 512;
  } catch {
    return 0;
  }
}

/**
 * Makes a template's raw base image from an ext4 image: a sparse copy grown to
 * `sizeBytes` with the file system grown to fill it (offline, on the host, so
 * sandboxes of the default size need no resize in the guest at all).
 */
export async function makeGrownExt4Copy(source: string, dest: string, sizeBytes: number): Promise<void> {
  await run("cp", ["--sparse=always", source, dest]);
  const current = (await stat(dest)).size;
  if (sizeBytes > current) {
    await truncate(dest, sizeBytes);
    // resize2fs insists on a freshly checked file system; -p repairs nothing but trivia.
    await run("e2fsck", ["-f", "-p", dest]).catch((err: { code?: number }) => {
      // Exit code 1 = "errors corrected", which is fine for a freshly built image.
      if (err.code !== 1) throw err;
    });
    await run("resize2fs", ["-f", dest]);
  }
}

/**
 * Copies the content of a (possibly layered) image into a standalone sparse raw
 * image: used to make a template's base image from a sandbox's overlay chain.
 */
export async function flattenToRaw(source: string, dest: string): Promise<void> {
  await run("qemu-img", ["convert", "-U", "-O", "raw", "-S", "4k", source, dest]);
}
