import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RESTORE_KERNEL_SUFFIX, restoreKernel, restoreStubLength } from "./restore-kernel.ts";

/** A file shaped like a bzImage: `setup_sects` at 0x1f1, `HdrS` at 0x202, distinct bytes elsewhere. */
function fakeBzImage(bytes: number, setupSects: number): Buffer {
  const image = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) image[i] = (i * 7) % 251;
  image[0x1f1] = setupSects;
  image.write("HdrS", 0x202, "latin1");
  return image;
}

describe("restoreStubLength", () => {
  it("keeps the setup sectors (0 meaning 4) plus the boot sector and 64 KiB", () => {
    expect(restoreStubLength(fakeBzImage(0x300, 39), 14_000_000)).toBe(40 * 512 + 65536);
    expect(restoreStubLength(fakeBzImage(0x300, 0), 14_000_000)).toBe(5 * 512 + 65536);
  });

  it("gives nothing for a non-bzImage or an image already that short", () => {
    const elf = fakeBzImage(0x300, 39);
    elf.write("\x7fELF", 0x202, "latin1");
    expect(restoreStubLength(elf, 14_000_000)).toBeUndefined();
    expect(restoreStubLength(fakeBzImage(0x300, 39), 40 * 512 + 65536)).toBeUndefined();
    expect(restoreStubLength(Buffer.alloc(0x100), 14_000_000)).toBeUndefined();
  });
});

describe("restoreKernel", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "wrenn-restore-kernel-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the kernel's head beside it once and reuses it", async () => {
    const kernel = join(dir, "vmlinuz");
    const image = fakeBzImage(1024 * 1024, 27);
    await writeFile(kernel, image);
    const stub = await restoreKernel(kernel);
    expect(stub).toBe(`${kernel}${RESTORE_KERNEL_SUFFIX}`);
    const written = await readFile(stub);
    expect(written.length).toBe(28 * 512 + 65536);
    expect(written.equals(image.subarray(0, written.length))).toBe(true);
    const first = await stat(stub);
    expect(await restoreKernel(kernel)).toBe(stub);
    expect((await stat(stub)).mtimeMs).toBe(first.mtimeMs);
  });

  it("falls back to the full kernel when no stub can be made", async () => {
    const notBz = join(dir, "plain");
    await writeFile(notBz, Buffer.alloc(512 * 1024, 1));
    expect(await restoreKernel(notBz)).toBe(notBz);

    const blocked = join(dir, "vmlinuz");
    await writeFile(blocked, fakeBzImage(1024 * 1024, 27));
    // A directory where the stub would go: the rename fails, the kernel itself is used.
    await mkdir(`${blocked}${RESTORE_KERNEL_SUFFIX}`);
    expect(await restoreKernel(blocked)).toBe(blocked);

    expect(await restoreKernel(join(dir, "missing"))).toBe(join(dir, "missing"));
  });
});
