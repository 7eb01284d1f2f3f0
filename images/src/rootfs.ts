import { chmod, copyFile, mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "@wrenn/common";
import type { EnvdBundle } from "./envd-bundle.ts";
import { run } from "./exec.ts";
import { allocatedBytes } from "./fsutil.ts";
import type { GuestScripts, NodeRuntime } from "./inputs.ts";

/** What goes on top of the cached debootstrap tree. */
export interface RootfsExtras {
  node: NodeRuntime;
  envd: EnvdBundle;
  scripts: GuestScripts;
  /** Written to `/etc/wrenn/image.json` so a guest can tell which image it runs. */
  imageInfo: Record<string, unknown>;
}

/** Paths inside the guest. */
export const GUEST_PATHS = {
  node: "/usr/local/bin/node",
  envdDir: "/usr/local/lib/envd",
  envd: "/usr/local/bin/envd",
  init: "/usr/local/sbin/wrenn-init",
} as const;

const MIB = 1024 * 1024;
/** Smallest rootfs (apparent size): room for users to install a few packages. */
export const MIN_ROOTFS_BYTES = 1024 * MIB;
/** Free space added on top of the content. */
export const ROOTFS_HEADROOM = 0.3;

function inside(root: string, guestPath: string): string {
  return join(root, guestPath.replace(/^\/+/, ""));
}

/**
 * Copies the debootstrap tree to `stagingDir` and adds Node, envd (its `dist/` directory
 * and a launcher) and the guest init.
 */
export async function stageRootfs(baseDir: string, stagingDir: string, extras: RootfsExtras): Promise<void> {
  await mkdir(stagingDir, { recursive: true });
  // cp -a keeps owners, modes, device nodes and hard links; the cache stays untouched.
  await run("cp", ["-a", "--reflink=auto", `${baseDir}/.`, stagingDir]);

  const node = inside(stagingDir, GUEST_PATHS.node);
  await copyFile(extras.node.path, node);
  await chmod(node, 0o755);
  // The host's node must run on the guest's libraries; find out now rather than at boot.
  const { stdout } = await run("chroot", [stagingDir, GUEST_PATHS.node, "--version"], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  if (stdout.trim() !== extras.node.version) {
    throw errors.internal(`node in the rootfs reports ${stdout.trim()}, expected ${extras.node.version}`);
  }

  const envdDir = inside(stagingDir, GUEST_PATHS.envdDir);
  await mkdir(envdDir, { recursive: true });
  await run("cp", ["-R", "--no-preserve=ownership", `${extras.envd.distDir}/.`, envdDir]);
  await run("chown", ["-R", "0:0", envdDir]);

  const writeExecutable = async (guestPath: string, text: string) => {
    const file = inside(stagingDir, guestPath);
    await mkdir(join(file, ".."), { recursive: true });
    await writeFile(file, text, { mode: 0o755 });
    await chmod(file, 0o755);
  };
  await writeExecutable(GUEST_PATHS.envd, extras.scripts.envdWrapper);
  await writeExecutable(GUEST_PATHS.init, extras.scripts.wrennInit);

  await mkdir(inside(stagingDir, "/etc/wrenn"), { recursive: true });
  await writeFile(
    inside(stagingDir, "/etc/wrenn/image.json"),
    `${JSON.stringify(extras.imageInfo, null, 2)}\n`,
  );
}

/** Sizes of a finished ext4 image. */
export interface Ext4Result {
  contentBytes: number;
  apparentBytes: number;
  allocatedBytes: number;
}

/**
 * Makes a sparse ext4 image of `sourceDir` with `mke2fs -d` (no loop mount, no root
 * needed for the image itself): content plus {@link ROOTFS_HEADROOM}, at least
 * {@link MIN_ROOTFS_BYTES}, rounded up to a MiB.
 */
export async function makeExt4(
  sourceDir: string,
  imageFile: string,
  label = "wrenn-root",
): Promise<Ext4Result> {
  const contentBytes = await allocatedBytes(sourceDir);
  const wanted = Math.max(MIN_ROOTFS_BYTES, contentBytes * (1 + ROOTFS_HEADROOM));
  const sizeMiB = Math.ceil(wanted / MIB);
  await run("mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-L",
    label,
    // Sandboxes run as root and users alike; reserving blocks for root only wastes space.
    "-m",
    "0",
    "-E",
    "root_owner=0:0",
    "-d",
    sourceDir,
    imageFile,
    `${sizeMiB}M`,
  ]);
  const st = await stat(imageFile);
  return { contentBytes, apparentBytes: st.size, allocatedBytes: st.blocks * 512 };
}
