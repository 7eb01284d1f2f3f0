import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
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
   * `apps/envd/dist`, copied whole to `/usr/local/lib/envd/`. envd's build puts its native
   * runtime packages (node-pty) under `dist/node_modules`, so the directory is self-contained.
   */
  distDir: string;
  /** Version from `apps/envd/package.json`. */
  version: string;
  /** Content hash of `distDir`. */
  bundleSha256: string;
}

/**
 * Builds envd with its own build script (`npm run build -w @wrenn/envd`, output in
 * `apps/envd/dist/`) and describes the result.
 */
export async function buildEnvdBundle(repoRoot = REPO_ROOT): Promise<EnvdBundle> {
  const pkgFile = join(repoRoot, "apps/envd/package.json");
  if (!existsSync(pkgFile)) {
    throw errors.failedPrecondition(
      `envd sources not found at ${dirname(pkgFile)}; run from a Wrenn checkout`,
    );
  }
  await run("npm", ["run", "--silent", "build", "-w", "@wrenn/envd"], { cwd: repoRoot });
  const distDir = join(repoRoot, "apps/envd/dist");
  if (!existsSync(join(distDir, "envd.mjs"))) {
    throw errors.internal(`envd build did not produce ${join(distDir, "envd.mjs")}`);
  }
  const version = (JSON.parse(await readFile(pkgFile, "utf8")) as { version?: string }).version ?? "0.0.0";
  return { distDir, version, bundleSha256: await hashTree(distDir) };
}
