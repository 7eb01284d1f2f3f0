// Plain JavaScript (with types in source-hash.d.mts) so that the Vite config, the build tool
// (scripts/build.mjs, run by plain `node`) and the control plane (TypeScript) share one function.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Name of the file, inside the build output folder, that records the sources a build was made from. */
export const SOURCE_HASH_FILE = ".source-hash";

// What of an app's folder shapes its build: an allow-list, because build tools and scripts drop
// transient files beside the sources while a build runs (Vite's `vite.config.ts.timestamp-….mjs`,
// lock files, tsbuildinfo), and hashing those would make a fresh build look stale.
const INPUTS =
  /^(src|public|index\.html|package\.json|(vite|postcss|tailwind)\.config\.[cm]?[jt]s|tsconfig[\w.-]*\.json)$/;
// Inside them: installed packages and dot entries (caches, editor state) are not sources; tests
// and docs do not change what the build produces, so editing them must not invalidate it.
const SKIPPED_DIRS = new Set(["dist", "node_modules", "coverage"]);
const SKIPPED_FILE = /(\.test\.[cm]?[jt]sx?|\.md)$/;

function walk(root, dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    if (dir === root && !INPUTS.test(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) walk(root, path, out);
    } else if (entry.isFile() && !SKIPPED_FILE.test(entry.name)) {
      out.push(relative(root, path).split(sep).join("/"));
    }
  }
}

/**
 * SHA-256 over the files of `appDir` that shape its build (relative path and content of each, in
 * sorted order) plus the repository's `package-lock.json` (dependency versions shape it too).
 * Inputs: `src/`, `public/`, `index.html`, `package.json`, `vite.config.*` (and PostCSS/Tailwind
 * configs), `tsconfig*.json`; inside them `node_modules/`, dot entries, `*.test.*` and `*.md` are skipped.
 */
export function sourceHash(appDir, options = {}) {
  const root = resolve(appDir);
  const lockfile = options.lockfile ?? join(root, "..", "..", "package-lock.json");
  const files = [];
  walk(root, root, files);
  files.sort();
  const h = createHash("sha256");
  for (const file of files) {
    h.update(`${file}\0`);
    h.update(readFileSync(join(root, file)));
    h.update("\0");
  }
  h.update("package-lock.json\0");
  if (existsSync(lockfile)) h.update(readFileSync(lockfile));
  return h.digest("hex");
}

/** Records `sourceHash(appDir)` in `<outDir>/.source-hash` (outDir default `<appDir>/dist`); returns it. */
export function writeSourceHash(appDir, outDir = join(appDir, "dist"), options = {}) {
  const hash = sourceHash(appDir, options);
  writeFileSync(join(outDir, SOURCE_HASH_FILE), `${hash}\n`);
  return hash;
}

/** The hash recorded in `<outDir>/.source-hash`, or undefined when there is none. */
export function readSourceHash(outDir) {
  try {
    return readFileSync(join(outDir, SOURCE_HASH_FILE), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

// `node source-hash.mjs <appDir> [outDir]` prints the hash, or writes it with `--write`.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const write = args.includes("--write");
  const [appDir, outDir] = args.filter((a) => a !== "--write");
  if (!appDir) {
    process.stderr.write("usage: node source-hash.mjs <appDir> [outDir] [--write]\n");
    process.exit(2);
  }
  process.stdout.write(`${write ? writeSourceHash(appDir, outDir) : sourceHash(appDir)}\n`);
}
