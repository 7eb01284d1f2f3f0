import {
  chmod,
  lchown,
  link,
  lstat,
  mkdir,
  readdir,
  realpath,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { tarEntries } from "./tar.ts";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** A layer path as a clean relative path; `undefined` for the root itself. Refuses `..` and absolute escapes. */
function clean(raw: string): string | undefined {
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`layer entry ${JSON.stringify(raw)} escapes the root`);
  return parts.length ? parts.join("/") : undefined;
}

/** True when `p` (already resolved) is `root` or below it. */
function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== "..");
}

/**
 * The directory an entry goes in, created if missing, checked to stay inside
 * `root` after symlinks (a layer's symlink must not redirect later writes out).
 */
async function parentOf(root: string, rel: string): Promise<string> {
  const dir = join(root, dirname(rel));
  await mkdir(dir, { recursive: true });
  const real = await realpath(dir);
  if (!inside(root, real)) throw new Error(`layer entry ${rel} resolves outside the root`);
  return real;
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Applies one OCI layer (tar, gzip or not) onto the directory `root` (which
 * holds the layers below it): `.wh.<name>` deletes `<name>` from the lower
 * layers, `.wh..wh..opq` empties its directory of what lower layers put there,
 * everything else is created or replaced with its mode and owner. Devices and
 * fifos are skipped (the guest's devtmpfs provides /dev).
 */
export async function applyLayer(rootDir: string, layer: Buffer): Promise<void> {
  const root = await realpath(rootDir);
  const fromThisLayer = new Set<string>();
  for (const entry of tarEntries(layer)) {
    const rel = clean(entry.path);
    if (rel === undefined) continue;
    const base = rel.split("/").pop() as string;
    const dir = await parentOf(root, rel);
    if (base === OPAQUE) {
      const parent = dirname(rel) === "." ? "" : dirname(rel);
      for (const child of await readdir(dir)) {
        if (!fromThisLayer.has(parent ? `${parent}/${child}` : child)) {
          await rm(join(dir, child), { recursive: true, force: true });
        }
      }
      continue;
    }
    if (base.startsWith(WHITEOUT)) {
      await rm(join(dir, base.slice(WHITEOUT.length)), { recursive: true, force: true });
      continue;
    }
    const target = join(dir, base);
    fromThisLayer.add(rel);
    if (entry.type === "dir") {
      const st = await lstat(target).catch(() => undefined);
      if (st && !st.isDirectory()) await rm(target, { force: true });
      await mkdir(target, { recursive: true });
    } else {
      if (await exists(target)) await rm(target, { recursive: true, force: true });
      if (entry.type === "file") await writeFile(target, entry.data);
      else if (entry.type === "symlink") await symlink(entry.linkname, target);
      else if (entry.type === "hardlink") {
        const src = clean(entry.linkname);
        if (!src) throw new Error(`hard link ${rel} has no target`);
        const real = await realpath(join(root, src));
        if (!inside(root, real)) throw new Error(`hard link ${rel} points outside the root`);
        await link(real, target);
        continue;
      } else continue;
    }
    await lchown(target, entry.uid, entry.gid);
    if (entry.type !== "symlink") await chmod(target, entry.mode);
  }
}
