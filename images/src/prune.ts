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
 * Deletes all but the newest `keep` complete images. Not done automatically after a build:
 * sandboxes and templates may still be based on an older image, and only the operator
 * (or the host agent, which knows) can tell. Each image is first renamed to a `tmp-*`
 * name, so a crash mid-delete leaves nothing that looks like a complete image.
 */
export async function pruneGuestImages(opts: PruneOptions): Promise<GuestImage[]> {
  if (!Number.isInteger(opts.keep) || opts.keep < 1) {
    throw errors.invalidArgument("keep must be a whole number of at least 1");
  }
  const layout = imageLayout(opts.dataDir);
  const release = await acquireLock(layout.lockFile);
  try {
    const doomed = (await listGuestImages(opts.dataDir)).slice(opts.keep);
    for (const image of doomed) {
      const aside = join(layout.root, `tmp-pruned-${image.hash}`);
      await rename(image.dir, aside);
      await safeRemove(aside);
    }
    return doomed;
  } finally {
    await release();
  }
}
