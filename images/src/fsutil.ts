import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { run } from "./exec.ts";

/** SHA-256 of a file's bytes, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** SHA-256 of a string or bytes, hex. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A regular file or symlink found by {@link listTree}, with its path relative to the root. */
export interface TreeEntry {
  rel: string;
  abs: string;
  mode: number;
  symlinkTarget?: string;
}

/** Lists the files and symlinks under `root` (recursively, sorted, directories omitted). */
export async function listTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const abs = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const st = await lstat(abs);
      if (st.isDirectory()) await walk(abs, rel);
      else if (st.isSymbolicLink()) {
        out.push({ rel, abs, mode: st.mode, symlinkTarget: await readlink(abs) });
      } else if (st.isFile()) out.push({ rel, abs, mode: st.mode });
    }
  };
  await walk(root, "");
  return out;
}

/** A content hash of a directory tree: relative paths, permission bits and bytes of every file. */
export async function hashTree(root: string): Promise<string> {
  const hash = createHash("sha256");
  for (const e of await listTree(root)) {
    hash.update(`${e.rel}\0${(e.mode & 0o7777).toString(8)}\0`);
    hash.update(e.symlinkTarget !== undefined ? `->${e.symlinkTarget}` : await readFile(e.abs));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
async function mountsUnder(dir: string): Promise<string[]> {
  if (!existsSync("/proc/self/mountinfo")) return [];
  const root = resolve(dir);
  const points = (await readFile("/proc/self/mountinfo", "utf8"))
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => !!p)
    // mountinfo escapes spaces and the like as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((p) => p === root || p.startsWith(`${root}/`));
  return points.sort((a, b) => b.length - a.length);
}

/**
 * Removes a build directory. debootstrap bind-mounts host device nodes and mounts /proc
 * inside its target; a crashed build can leave them mounted, and a plain recursive delete
 * would then reach into the host's /dev. So: unmount everything below first, then delete
 * without crossing into other filesystems.
 */
export async function safeRemove(dir: string): Promise<void> {
  // Build directories are always a few levels deep; anything shallower is a bug upstream.
  if (resolve(dir).split("/").filter(Boolean).length < 2) {
    throw new Error(`refusing to remove ${dir}`);
  }
  if (!existsSync(dir)) return;
  for (const point of await mountsUnder(dir)) {
    await run("umount", ["-l", point]).catch(() => undefined);
  }
  await run("rm", ["-rf", "--one-file-system", "--", dir]);
}

/** Bytes allocated on disk for everything under `dir` (like `du -s`). */
export async function allocatedBytes(dir: string): Promise<number> {
  const { stdout } = await run("du", ["-s", "--block-size=1", "--one-file-system", dir]);
  return Number(stdout.split(/\s/)[0]);
}
