import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { errors } from "@wrenn/common";
import { run } from "./exec.ts";
import { hashTree } from "./fsutil.ts";

/** The repository root (this file lives in `images/src/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The built envd and what the guest needs to run it. */
export interface EnvdBundle {
  /**
   * A private build of `apps/envd` (what its build script writes to `dist/`), copied whole to
   * `/usr/local/lib/envd/`. envd's build puts its native runtime packages (node-pty) under
   * `node_modules/` there, so the directory is self-contained.
   */
  distDir: string;
  /** Version from `apps/envd/package.json`. */
  version: string;
  /** Content hash of `distDir`. */
  bundleSha256: string;
  /** Deletes the private build directory. */
  dispose(): Promise<void>;
}

/**
 * Builds envd with its own build script (`npm run build -w @wrenn/envd`) into a private
 * directory (`--outdir`), so a concurrent build of `apps/envd/dist/` by someone else cannot
 * swap files under us while they are hashed and copied. The output is deterministic, so the
 * hash is stable across runs.
 */
export async function buildEnvdBundle(repoRoot = REPO_ROOT): Promise<EnvdBundle> {
  const pkgFile = join(repoRoot, "apps/envd/package.json");
  if (!existsSync(pkgFile)) {
    throw errors.failedPrecondition(
      `envd sources not found at ${dirname(pkgFile)}; run from a Wrenn checkout`,
    );
  }
  const distDir = await mkdtemp(join(tmpdir(), "wrenn-envd-build-"));
  const dispose = () => rm(distDir, { recursive: true, force: true });
  try {
    await run("npm", ["run", "--silent", "build", "-w", "@wrenn/envd", "--", "--outdir", distDir], {
      cwd: repoRoot,
    });
    if (!existsSync(join(distDir, "envd.mjs"))) {
      throw errors.internal(`envd build (npm run build -w @wrenn/envd -- --outdir) did not produce envd.mjs`);
    }
    const version = (JSON.parse(await readFile(pkgFile, "utf8")) as { version?: string }).version ?? "0.0.0";
    return { distDir, version, bundleSha256: await hashTree(distDir), dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
