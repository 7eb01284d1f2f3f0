import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "@wrenn/common";
import { type ImageManifest, isImageManifest } from "./manifest.ts";
import { IMAGE_FILES, imageLayout } from "./paths.ts";

/** A complete guest image on disk. */
export interface GuestImage {
  hash: string;
  /** The image directory `<dataDir>/images/base/<hash>`. */
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  manifest: ImageManifest;
}

/**
 * Reads the image in `dir`, or returns undefined when it is not a complete image: the
 * manifest is missing or unreadable, names another hash, or an artifact is absent.
 */
export async function readGuestImage(dir: string): Promise<GuestImage | undefined> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(join(dir, IMAGE_FILES.manifest), "utf8"));
  } catch {
    return undefined;
  }
  if (!isImageManifest(manifest) || !dir.endsWith(`/${manifest.hash}`)) return undefined;
  const image: GuestImage = {
    hash: manifest.hash,
    dir,
    kernel: join(dir, IMAGE_FILES.kernel),
    initrd: join(dir, IMAGE_FILES.initrd),
    rootfs: join(dir, IMAGE_FILES.rootfs),
    manifest,
  };
  return [image.kernel, image.initrd, image.rootfs].every((f) => existsSync(f)) ? image : undefined;
}

/** Every complete image under the data dir, newest build first. */
export async function listGuestImages(dataDir?: string): Promise<GuestImage[]> {
  const { baseDir } = imageLayout(dataDir);
  if (!existsSync(baseDir)) return [];
  const images: GuestImage[] = [];
  for (const name of await readdir(baseDir)) {
    const image = await readGuestImage(join(baseDir, name));
    if (image) images.push(image);
  }
  return images.sort((a, b) => b.manifest.builtAt.localeCompare(a.manifest.builtAt));
}

/**
 * The newest complete guest image under the data dir (`WRENN_DATA_DIR`, default
 * `/var/lib/wrenn`). Throws `failed_precondition` when none has been built.
 */
export async function resolveGuestImage(dataDir?: string): Promise<GuestImage> {
  const [newest] = await listGuestImages(dataDir);
  if (!newest) {
    throw errors.failedPrecondition("guest image not built; run `wrenn image build`");
  }
  return newest;
}
