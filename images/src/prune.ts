import { rename } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "@wrenn/common";
import { safeRemove } from "./fsutil.ts";
import { acquireLock } from "./lock.ts";
import { imageLayout } from "./paths.ts";
import { type GuestImage, listGuestImages } from "./resolve.ts";

/** Options for {@link pruneGuestImages}. */
export interface PruneOptions {
  dataDir?: string;
  /** How many of the newest complete images to keep (at least 1). */
  keep: number;
}

/**
 * Deletes all but the newest `keep` complete images (templates keep their own copies of
 * the kernel, initramfs and root disk, so an old base image is not needed once they exist).
 * Each image is first renamed to a `tmp-*` name, so a crash mid-delete leaves nothing that
 * looks like a complete image.
 */
export async function pruneGuestImages(opts: PruneOptions): Promise<GuestImage[]> {
  checkKeep(opts.keep);
  const layout = imageLayout(opts.dataDir);
  const release = await acquireLock(layout.lockFile);
  try {
    return await pruneWhileLocked(opts.dataDir, opts.keep);
  } finally {
    await release();
  }
}

/** Throws `invalid_argument` unless `keep` is a whole number of at least 1. */
export function checkKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) {
    throw errors.invalidArgument("keep must be a whole number of at least 1");
  }
}

/** {@link pruneGuestImages} for a caller that already holds the build lock. */
export async function pruneWhileLocked(dataDir: string | undefined, keep: number): Promise<GuestImage[]> {
  checkKeep(keep);
  const layout = imageLayout(dataDir);
  const doomed = (await listGuestImages(dataDir)).slice(keep);
  for (const image of doomed) {
    const aside = join(layout.root, `tmp-pruned-${image.hash}`);
    await rename(image.dir, aside);
    await safeRemove(aside);
  }
  return doomed;
}
