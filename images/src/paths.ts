import { join } from "node:path";

/** Where Wrenn keeps its state when neither an option nor `WRENN_DATA_DIR` says otherwise. */
export const DEFAULT_DATA_DIR = "/var/lib/wrenn";

/** The data directory: the explicit argument, else `WRENN_DATA_DIR`, else {@link DEFAULT_DATA_DIR}. */
export function resolveDataDir(dataDir?: string): string {
  return dataDir || process.env.WRENN_DATA_DIR || DEFAULT_DATA_DIR;
}

/** File names inside one finished image directory. */
export const IMAGE_FILES = {
  kernel: "vmlinuz",
  initrd: "initrd.img",
  rootfs: "rootfs.ext4",
  manifest: "manifest.json",
} as const;

/**
 * The on-disk layout under `<dataDir>/images/`:
 * - `base/<hash>/`        finished images (complete once they exist: they are renamed into place);
 * - `tmp-<random>/`       builds in progress or abandoned by a crash (ignored, removed by the next build);
 * - `cache/rootfs-base-<key>/` debootstrap results, keyed by their own inputs;
 * - `cache/debs/`         downloaded .deb files reused by debootstrap;
 * - `build.lock`          held by the one build allowed at a time.
 */
export interface ImageLayout {
  root: string;
  baseDir: string;
  cacheDir: string;
  debCacheDir: string;
  lockFile: string;
  imageDir(hash: string): string;
  rootfsBaseDir(key: string): string;
}

/** The image layout for a data directory (see {@link ImageLayout}). */
export function imageLayout(dataDir?: string): ImageLayout {
  const root = join(resolveDataDir(dataDir), "images");
  const cacheDir = join(root, "cache");
  return {
    root,
    baseDir: join(root, "base"),
    cacheDir,
    debCacheDir: join(cacheDir, "debs"),
    lockFile: join(root, "build.lock"),
    imageDir: (hash) => join(root, "base", hash),
    rootfsBaseDir: (key) => join(cacheDir, `rootfs-base-${key}`),
  };
}
