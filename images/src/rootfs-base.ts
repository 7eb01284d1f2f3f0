import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./exec.ts";
import { safeRemove, sha256 } from "./fsutil.ts";
import type { ImageLayout } from "./paths.ts";

/** The Debian release the guest runs (its glibc matches the Node binary we copy in). */
export const DEBIAN_SUITE = "bookworm";

/**
 * Packages added to debootstrap's minbase. libstdc++6 is needed by Node; sudo lets the
 * default user install software, as in E2B sandboxes.
 */
export const ROOTFS_PACKAGES = [
  "bash",
  "coreutils",
  "procps",
  "iproute2",
  "ca-certificates",
  "python3",
  "tini",
  "libstdc++6",
  "sudo",
] as const;

/** The unprivileged default user, like E2B's `user`. */
export const DEFAULT_USER = { name: "user", uid: 1000, home: "/home/user", shell: "/bin/bash" } as const;

/** Bump when the steps below change in a way the key would not otherwise notice. */
const ROOTFS_BASE_VERSION = 1;

/**
 * Runs inside the fresh debootstrap tree (only ever through `chroot`): the default user
 * with passwordless sudo, neutral replacements for the host details debootstrap copies in
 * (hostname, resolv.conf), and no documentation, now or for packages users add later
 * (copyright files stay).
 */
const CUSTOMIZE_SCRIPT = `set -eu
useradd --create-home --home-dir ${DEFAULT_USER.home} --uid ${DEFAULT_USER.uid} --user-group --shell ${DEFAULT_USER.shell} ${DEFAULT_USER.name}
echo '${DEFAULT_USER.name} ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/${DEFAULT_USER.name}
chmod 0440 /etc/sudoers.d/${DEFAULT_USER.name}
echo wrenn >/etc/hostname
printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' >/etc/hosts
rm -f /etc/resolv.conf
: >/etc/resolv.conf
chmod 0644 /etc/resolv.conf
printf '%s\\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \\
  'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \\
  'path-exclude=/usr/share/locale/*' 'path-include=/usr/share/locale/locale.alias' \\
  >/etc/dpkg/dpkg.cfg.d/01-wrenn-slim
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/*.log \\
  /usr/share/man/* /usr/share/info/*
find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
`;

/** The cache key of the debootstrap result: everything that decides its content. */
export function rootfsBaseKey(): string {
  return sha256(
    JSON.stringify({
      version: ROOTFS_BASE_VERSION,
      suite: DEBIAN_SUITE,
      variant: "minbase",
      packages: ROOTFS_PACKAGES,
      customize: CUSTOMIZE_SCRIPT,
    }),
  ).slice(0, 16);
}

/**
 * Returns the cached debootstrap tree for the current key, creating it when absent.
 * It is built in a temporary directory and renamed into place, so the cache only ever
 * holds complete trees. The caller must hold the build lock.
 */
export async function ensureRootfsBase(
  layout: ImageLayout,
  mirror: string,
  log: (line: string) => void,
): Promise<{ dir: string; key: string; cached: boolean }> {
  const key = rootfsBaseKey();
  const dir = layout.rootfsBaseDir(key);
  if (existsSync(dir)) return { dir, key, cached: true };

  await mkdir(layout.debCacheDir, { recursive: true });
  const work = await mkdtemp(join(layout.cacheDir, "tmp-"));
  const target = join(work, "root");
  try {
    log(`debootstrap ${DEBIAN_SUITE} (minbase + ${ROOTFS_PACKAGES.join(",")}) from ${mirror}`);
    const seenPhases = new Set<string>();
    await run(
      "debootstrap",
      [
        "--variant=minbase",
        `--include=${ROOTFS_PACKAGES.join(",")}`,
        "--components=main",
        `--cache-dir=${layout.debCacheDir}`,
        DEBIAN_SUITE,
        target,
        mirror,
      ],
      {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" },
        onOutput: (chunk) => {
          // Report each debootstrap phase ("I: Retrieving", "I: Installing", …) the first time it appears, not per package.
          for (const line of chunk.split("\n")) {
            const phase = /^I: (\S+)/.exec(line)?.[1];
            if (phase && !seenPhases.has(phase)) {
              seenPhases.add(phase);
              log(`  ${line.trim()}`);
            }
          }
        },
      },
    );
    await run("chroot", [target, "/bin/sh", "-c", CUSTOMIZE_SCRIPT], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" },
    });
    await rename(target, dir);
    // Only the current key is ever used again; older trees are ~170 MB each.
    for (const name of await readdir(layout.cacheDir)) {
      if (name.startsWith("rootfs-base-") && name !== `rootfs-base-${key}`) {
        log(`removing outdated debootstrap tree ${name}`);
        await safeRemove(join(layout.cacheDir, name));
      }
    }
    return { dir, key, cached: false };
  } finally {
    await safeRemove(work);
  }
}

/** Reads the installed version of a Debian package inside a rootfs tree (from dpkg's status file). */
export async function installedVersion(rootDir: string, pkg: string): Promise<string | undefined> {
  const status = await readFile(join(rootDir, "var/lib/dpkg/status"), "utf8");
  for (const stanza of status.split("\n\n")) {
    if (new RegExp(`^Package: ${pkg.replace(/[.+]/g, "\\$&")}$`, "m").test(stanza)) {
      return /^Version: (.+)$/m.exec(stanza)?.[1];
    }
  }
  return undefined;
}
