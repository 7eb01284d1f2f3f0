import { execFile } from "node:child_process";
import { rename, rm } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Rewrites a just-captured template RAM file with a disk block behind every page: QEMU leaves
 * the guest pages it never touched as holes, and every clone maps the file private. A page
 * fault on a hole allocates and zero-fills a page-cache page one page at a time and cannot be
 * mapped ahead by fault-around, so a migration that reads all of a clone's RAM (its first
 * pause, every fork capture of it) took one fault per 4 KiB: a fork's source was stopped
 * 0.7–1.2 s instead of 0.33–0.36 s (bench/README.md, "Where that stop goes"). Costs the file's
 * full size on disk (512 MiB for the default guest instead of ~170 MiB).
 *
 * Must run before anything maps the file (the capture's VM is gone, no clone exists yet): the
 * filled copy replaces it under the same name.
 */
export async function fillRamFileHoles(path: string): Promise<void> {
  const filled = `${path}.filling`;
  try {
    await run("cp", ["--sparse=never", path, filled]);
    await rename(filled, path);
  } finally {
    await rm(filled, { force: true });
  }
}
