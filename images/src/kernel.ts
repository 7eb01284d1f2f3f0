import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "@wrenn/common";

/**
 * The virtio drivers the initramfs loads, in the order the kernel needs them. The Debian
 * cloud kernel builds them as modules; ext4 itself is built in.
 */
export const INITRAMFS_MODULES = [
  "virtio_ring",
  "virtio",
  "virtio_mmio",
  "virtio_blk",
  "failover",
  "net_failover",
  "virtio_net",
] as const;

/** A guest kernel found on the host. */
export interface GuestKernel {
  /** `uname -r` of the kernel, e.g. `6.1.0-56-cloud-amd64`. */
  version: string;
  /** Path of the bootable image (`/boot/vmlinuz-<version>`). */
  vmlinuz: string;
  /** `/lib/modules/<version>`. */
  modulesDir: string;
}

/** A kernel module to put into the initramfs. */
export interface KernelModule {
  name: string;
  /** Absolute path of the `.ko`, `.ko.xz`, `.ko.zst` or `.ko.gz` file. */
  path: string;
}

/** Compares dotted/dashed version strings numerically where both parts are numbers. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? "";
    const y = pb[i] ?? "";
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isInteger(nx) && Number.isInteger(ny) && x && y ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Finds the newest Debian cloud kernel (`linux-image-cloud-amd64`) installed on the host
 * whose modules are present too.
 */
export async function findGuestKernel(bootDir = "/boot", modulesRoot = "/lib/modules"): Promise<GuestKernel> {
  const names = existsSync(bootDir) ? await readdir(bootDir) : [];
  const versions = names
    .filter((n) => /^vmlinuz-.+-cloud-amd64$/.test(n))
    .map((n) => n.slice("vmlinuz-".length))
    .filter((v) => existsSync(join(modulesRoot, v, "modules.dep")))
    .sort(compareVersions);
  const version = versions.at(-1);
  if (!version) {
    throw errors.failedPrecondition(
      `no Debian cloud kernel with modules found in ${bootDir}; install it: apt-get install -y linux-image-cloud-amd64`,
    );
  }
  return { version, vmlinuz: join(bootDir, `vmlinuz-${version}`), modulesDir: join(modulesRoot, version) };
}

/** Module name as the kernel knows it: file name without `.ko*`, dashes as underscores. */
function moduleNameOf(relPath: string): string {
  const file = relPath.slice(relPath.lastIndexOf("/") + 1);
  return file.replace(/\.ko(\.(xz|zst|gz))?$/, "").replaceAll("-", "_");
}

/**
 * Resolves `wanted` module names to files using the kernel's `modules.dep`, adding any
 * dependency not listed and ordering every module after its dependencies. Modules built
 * into the kernel (`modules.builtin`) are skipped. Throws when a module does not exist.
 */
export async function resolveModules(modulesDir: string, wanted: readonly string[]): Promise<KernelModule[]> {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of (await readFile(join(modulesDir, "modules.dep"), "utf8")).split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const depPaths = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    deps.set(moduleNameOf(path), { path, deps: depPaths.map(moduleNameOf) });
  }
  const builtinFile = join(modulesDir, "modules.builtin");
  const builtin = new Set(
    existsSync(builtinFile)
      ? (await readFile(builtinFile, "utf8")).split("\n").filter(Boolean).map(moduleNameOf)
      : [],
  );

  const ordered: KernelModule[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const key = name.replaceAll("-", "_");
    if (seen.has(key) || builtin.has(key)) return;
    if (chain.includes(key))
      throw errors.internal(`module dependency cycle: ${[...chain, key].join(" -> ")}`);
    const entry = deps.get(key);
    if (!entry) {
      throw errors.failedPrecondition(`kernel module ${name} not found in ${modulesDir}/modules.dep`);
    }
    // modules.dep lists the full transitive closure, deepest dependency last.
    for (const dep of [...entry.deps].reverse()) visit(dep, [...chain, key]);
    seen.add(key);
    ordered.push({ name: key, path: join(modulesDir, entry.path) });
  };
  for (const name of wanted) visit(name, []);
  return ordered;
}
