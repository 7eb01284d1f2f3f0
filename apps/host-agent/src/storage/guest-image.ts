import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "@wrenn/common";

/** A finished guest image: the kernel, initramfs and ext4 root file system every template descends from. */
export interface GuestImage {
  hash: string;
  kernel: string;
  initrd: string;
  /** Raw ext4 image. */
  rootfs: string;
}

/**
 * Finds the newest complete guest image under `<dataDir>/images/base/<hash>/`
 * (the layout `wrenn image build` writes: a directory is renamed into place only
 * once complete, and holds vmlinuz, initrd.img, rootfs.ext4 and manifest.json).
 * Throws `failed_precondition` with the build command when there is none.
 */
export async function findGuestImage(dataDir: string): Promise<GuestImage> {
  const baseDir = join(dataDir, "images", "base");
  let best: { image: GuestImage; builtAt: string } | undefined;
  const entries = await readdir(baseDir).catch(() => [] as string[]);
  for (const hash of entries) {
    const dir = join(baseDir, hash);
    const image: GuestImage = {
      hash,
      kernel: join(dir, "vmlinuz"),
      initrd: join(dir, "initrd.img"),
      rootfs: join(dir, "rootfs.ext4"),
    };
    try {
      const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as {
        hash?: unknown;
        builtAt?: unknown;
      };
      if (manifest.hash !== hash || typeof manifest.builtAt !== "string") continue;
      await Promise.all([stat(image.kernel), stat(image.initrd), stat(image.rootfs)]);
      if (!best || manifest.builtAt > best.builtAt) best = { image, builtAt: manifest.builtAt };
    } catch {
      // Incomplete or foreign directory: not an image.
    }
  }
  if (!best) {
    throw errors.failedPrecondition(
      `no guest image under ${baseDir}; build one with: node --import tsx apps/cli/src/main.ts image build`,
    );
  }
  return best.image;
}
