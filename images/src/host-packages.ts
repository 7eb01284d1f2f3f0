import { errors } from "@wrenn/common";
import { commandExists, run } from "./exec.ts";

/**
 * Debian packages the build needs on the host, each with a command that proves it is
 * usable (checked when dpkg is not available to ask). The initramfs archive is written
 * in-process, so cpio is not needed; xz/zstd only if the kernel's modules are compressed.
 */
export const BUILD_HOST_PACKAGES: ReadonlyArray<{ pkg: string; probe: string }> = [
  { pkg: "debootstrap", probe: "debootstrap" },
  { pkg: "busybox-static", probe: "busybox" },
  { pkg: "linux-image-cloud-amd64", probe: "/boot" },
  { pkg: "e2fsprogs", probe: "mke2fs" },
];

async function isInstalled(pkg: string, probe: string, haveDpkg: boolean): Promise<boolean> {
  if (!haveDpkg) return commandExists(probe);
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const { stdout } = await run("dpkg-query", ["-W", "-f=${Status}", pkg]);
    return stdout.includes("install ok installed");
  } catch {
    return false;
  }
}

/** Returns the names of the build's Debian packages that are not installed. */
export async function missingHostPackages(): Promise<string[]> {
  const haveDpkg = await commandExists("dpkg-query");
  const missing: string[] = [];
  for (const { pkg, probe } of BUILD_HOST_PACKAGES) {
    if (!(await isInstalled(pkg, probe, haveDpkg))) missing.push(pkg);
  }
  return missing;
}

/**
 * Makes sure the build's host packages are present: installs the missing ones with apt
 * when running as root, otherwise fails with a message naming them.
 */
export async function ensureHostPackages(log: (line: string) => void): Promise<void> {
  const missing = await missingHostPackages();
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !(await commandExists("apt-get"))) {
    throw errors.failedPrecondition(
      `missing Debian packages: ${missing.join(" ")}; install them as root: apt-get install -y ${missing.join(" ")}`,
      { missingPackages: missing },
    );
  }
  log(`installing missing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-q"], { env });
  await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing], { env });
}
