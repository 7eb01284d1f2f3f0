import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Root of the @wrenn/proto package (holds buf.yaml, buf.gen.yaml and proto/). */
export const packageRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where generated TypeScript is committed, relative to {@link packageRoot}. */
export const generatedDirName = "src/gen";

/**
 * Directories holding npm-installed executables, nearest first. Workspaces may
 * hoist buf and protoc-gen-es to the repository root, so both levels count.
 */
function binDirs(): string[] {
  return [
    join(packageRoot, "node_modules", ".bin"),
    resolve(packageRoot, "..", "..", "node_modules", ".bin"),
  ];
}

/**
 * Runs `buf generate` with the local protoc-gen-es. `outputBase` replaces the
 * package root as the base of the template's `out` paths, so generating into
 * a temporary directory leaves the committed files untouched.
 */
export function runBufGenerate(outputBase: string = packageRoot): void {
  runBuf(["generate", "--template", "buf.gen.yaml", "--output", outputBase]);
}

/**
 * Runs `buf lint` (rules in buf.yaml) and `buf format --diff --exit-code`;
 * throws with buf's findings when either complains.
 */
export function runBufLint(): void {
  runBuf(["lint"]);
  runBuf(["format", "--diff", "--exit-code"]);
}

/** Runs buf from node_modules in the package root; throws on a non-zero exit. */
function runBuf(args: string[]): void {
  const path = [...binDirs(), process.env.PATH ?? ""].join(":");
  const result = spawnSync("buf", args, {
    cwd: packageRoot,
    env: { ...process.env, PATH: path },
    encoding: "utf8",
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`buf ${args[0]} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

/** Maps each file below `root` (relative path) to its contents. */
function readTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(relative(root, full), readFileSync(full, "utf8"));
    }
  };
  try {
    walk(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return files;
}

/**
 * Regenerates into a temporary directory and lists every file that differs
 * from the committed output (missing, extra or changed). Empty means fresh.
 */
export function findStaleGeneratedFiles(): string[] {
  const scratch = mkdtempSync(join(tmpdir(), "wrenn-proto-gen-"));
  try {
    runBufGenerate(scratch);
    const expected = readTree(join(scratch, generatedDirName));
    const committed = readTree(join(packageRoot, generatedDirName));
    const stale: string[] = [];
    for (const [file, text] of expected) {
      if (committed.get(file) !== text) stale.push(file);
    }
    for (const file of committed.keys()) {
      if (!expected.has(file)) stale.push(file);
    }
    return stale.sort();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
