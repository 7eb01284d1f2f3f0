import { randomBytes } from "node:crypto";
import { open, rename, rm, stat, writeFile } from "node:fs/promises";

/**
 * Bytes of the kernel's protected-mode part kept after the setup code. QEMU
 * never runs them on a restore; a non-empty payload keeps the image looking
 * like any other bzImage to its loader.
 */
const PAYLOAD_BYTES = 64 * 1024;

/** Suffix of the stub written beside a kernel image. */
export const RESTORE_KERNEL_SUFFIX = ".restore";

/**
 * The length of a bzImage's stub: its real-mode setup code (`setup_sects` at
 * offset 0x1f1, 0 meaning 4, plus the boot sector, in 512-byte sectors — the
 * part QEMU's x86 loader parses) and {@link PAYLOAD_BYTES} of what follows.
 * Undefined when `header` is not a bzImage (no `HdrS` at 0x202) or the image is
 * already that short.
 */
export function restoreStubLength(header: Buffer, imageBytes: number): number | undefined {
  if (header.length < 0x206 || header.toString("latin1", 0x202, 0x206) !== "HdrS") return undefined;
  const sects = header[0x1f1] || 4;
  const length = (sects + 1) * 512 + PAYLOAD_BYTES;
  return length < imageBytes ? length : undefined;
}

/**
 * The kernel image a restoring QEMU is given. A restore never runs it (the guest's
 * kernel is already in the snapshot's RAM and `-no-reboot` ends the VM instead of
 * rebooting), but QEMU's x86 `-kernel` loader still copies the whole image into
 * anonymous memory it keeps for the VM's life: ~14 MB of unique memory per sandbox
 * with Debian's cloud kernel. So restores get a copy cut after the setup header
 * (`<kernel>.restore`, written once beside the immutable image, atomically), which
 * QEMU loads the same way into ~70 KB. Whenever that is not possible (not a bzImage,
 * a read-only directory) the full kernel is used, which only costs the memory.
 */
export async function restoreKernel(kernel: string): Promise<string> {
  const stub = `${kernel}${RESTORE_KERNEL_SUFFIX}`;
  try {
    const file = await open(kernel, "r");
    let bytes: Buffer;
    let length: number | undefined;
    try {
      const size = (await file.stat()).size;
      const header = Buffer.alloc(0x206);
      await file.read(header, 0, header.length, 0);
      length = restoreStubLength(header, size);
      if (length === undefined) return kernel;
      const existing = await stat(stub).catch(() => undefined);
      if (existing?.size === length) return stub;
      bytes = Buffer.alloc(length);
      await file.read(bytes, 0, length, 0);
    } finally {
      await file.close();
    }
    const tmp = `${stub}.tmp-${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, stub);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return stub;
  } catch {
    return kernel;
  }
}
