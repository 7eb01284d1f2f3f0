import { existsSync } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors, isWrennError } from "@wrenn/common";
import { run } from "../exec.ts";
import { allocatedBytes } from "../fsutil.ts";
import { BUSYBOX_PATH } from "../inputs.ts";
import type { GuestImage } from "../resolve.ts";
import { type Ext4Result, GUEST_PATHS, makeExt4, stageRootfs } from "../rootfs.ts";
import { DEFAULT_USER } from "../rootfs-base.ts";

/** What {@link imageToGuestRootfs} works from. */
export interface GuestRootfsInput {
  /** The unpacked image (OCI layers applied); copied, left as it is. */
  treeDir: string;
  /** Scratch directory (created; the caller removes it). */
  workDir: string;
  /** The guest image whose runtime (node, envd, wrenn-init, tini) goes in; its kernel boots the result. */
  guest: GuestImage;
  /** Where the ext4 image is written. */
  out: string;
  /** Largest content accepted (the template's disk size), bytes. */
  maxContentBytes?: number;
  /** Written to `/etc/wrenn/image.json`. */
  imageInfo: Record<string, unknown>;
  /** Static busybox used for `ip`/`mount` when the image lacks them (default: the host's). */
  busybox?: string;
}

/** Where a busybox added to an image lives, and the tools it stands in for. */
const BUSYBOX_GUEST = "/usr/local/lib/wrenn/busybox";
const TOOL_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const GLIBC_LOADER = "/lib64/ld-linux-x86-64.so.2";

/**
 * wrenn-init configures the NIC with one `ip -force -batch -`; busybox's ip has no batch
 * mode, so this wrapper runs each line through it.
 */
const IP_WRAPPER = `#!/bin/sh
# iproute2's ip for an image without it: busybox's, with -force -batch read line by line.
if [ "$1" = -force ] && [ "$2" = -batch ]; then
  rc=0
  while read -r line; do [ -n "$line" ] && { ${BUSYBOX_GUEST} ip $line || rc=1; }; done
  exit $rc
fi
exec ${BUSYBOX_GUEST} ip "$@"
`;

/**
 * Resolves `guestPath` inside the tree `root` the way the guest will: symlinks followed,
 * absolute ones re-rooted at `root`. Undefined when something on the way is missing.
 */
export async function resolveInTree(root: string, guestPath: string, hops = 0): Promise<string | undefined> {
  const parts = guestPath.split("/").filter((p) => p !== "" && p !== ".");
  const cur: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === "..") {
      cur.pop();
      continue;
    }
    const p = join(root, ...cur, part);
    const st = await lstat(p).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (hops >= 40) return undefined;
      const target = await readlink(p);
      const base = target.startsWith("/") ? target : `/${[...cur, target].join("/")}`;
      return resolveInTree(root, [base, ...parts.slice(i + 1)].join("/"), hops + 1);
    }
    cur.push(part);
  }
  return join(root, ...cur);
}

async function findTool(root: string, name: string): Promise<string | undefined> {
  for (const dir of TOOL_DIRS) {
    const found = await resolveInTree(root, `${dir}/${name}`);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses what cannot become a Wrenn guest, with the reason: Wrenn's runtime (the node that
 * runs envd) and wrenn-init need glibc and bash, so musl images such as Alpine are refused.
 */
export async function checkImageTree(root: string): Promise<void> {
  if (!(await resolveInTree(root, GLIBC_LOADER))) {
    throw errors.failedPrecondition(
      `the image has no glibc (${GLIBC_LOADER}): Wrenn's guest runtime needs a glibc-based image ` +
        "such as Debian or Ubuntu; musl-based images (Alpine) and distroless images are not supported",
    );
  }
  if (!(await resolveInTree(root, "/bin/bash"))) {
    throw errors.failedPrecondition("the image has no /bin/bash, which Wrenn's guest init needs");
  }
}

/** The files of the guest runtime, read out of the guest image's ext4 with debugfs (no mount, no root). */
async function extractRuntime(rootfs: string, dir: string) {
  await mkdir(dir, { recursive: true });
  const debugfs = (request: string) => run("debugfs", ["-R", request, rootfs]);
  await debugfs(`rdump ${GUEST_PATHS.envdDir} ${dir}`);
  const files = {
    node: join(dir, "node"),
    envdWrapper: join(dir, "envd-wrapper"),
    wrennInit: join(dir, "wrenn-init"),
    tini: join(dir, "tini"),
  };
  await debugfs(`dump ${GUEST_PATHS.node} ${files.node}`);
  await debugfs(`dump ${GUEST_PATHS.envd} ${files.envdWrapper}`);
  await debugfs(`dump ${GUEST_PATHS.init} ${files.wrennInit}`);
  await debugfs(`dump /usr/bin/tini ${files.tini}`);
  const envdDir = join(dir, GUEST_PATHS.envdDir.split("/").pop() as string);
  for (const f of [envdDir, ...Object.values(files)]) {
    if (!existsSync(f)) throw errors.internal(`the guest image's rootfs lacks ${f.slice(dir.length)}`);
  }
  return { ...files, envdDir };
}

/**
 * What a Dockerfile-made image lacks and every Wrenn guest has: tini (init's child reaper),
 * `ip` and `mount` for wrenn-init (busybox stands in), the default user with passwordless
 * sudo when sudo is there, and plain /etc files wrenn-init rewrites at boot.
 */
async function addGuestBasics(root: string, tini: string, busybox: string): Promise<void> {
  if (!(await resolveInTree(root, "/usr/bin/tini"))) {
    await mkdir(join(root, "usr/bin"), { recursive: true });
    await copyFile(tini, join(root, "usr/bin/tini"));
    await chmod(join(root, "usr/bin/tini"), 0o755);
  }
  const missing = [];
  for (const tool of ["ip", "mount"]) if (!(await findTool(root, tool))) missing.push(tool);
  if (missing.length > 0) {
    await mkdir(join(root, "usr/local/lib/wrenn"), { recursive: true });
    await mkdir(join(root, "usr/local/sbin"), { recursive: true });
    await copyFile(busybox, join(root, BUSYBOX_GUEST));
    await chmod(join(root, BUSYBOX_GUEST), 0o755);
    if (missing.includes("ip")) await writeFile(join(root, "usr/local/sbin/ip"), IP_WRAPPER, { mode: 0o755 });
    if (missing.includes("mount")) {
      await writeFile(join(root, "usr/local/sbin/mount"), `#!/bin/sh\nexec ${BUSYBOX_GUEST} mount "$@"\n`, {
        mode: 0o755,
      });
    }
  }
  for (const f of ["etc/resolv.conf", "etc/hosts", "etc/hostname"]) {
    // Often a link into /run (systemd-resolved) in images: wrenn-init writes real files.
    await rm(join(root, f), { force: true, recursive: true });
    await writeFile(join(root, f), "", { mode: 0o644 });
  }
  await addDefaultUser(root);
}

async function addDefaultUser(root: string): Promise<void> {
  const u = DEFAULT_USER;
  const passwd = await readFile(join(root, "etc/passwd"), "utf8").catch(() => "");
  if (!passwd.split("\n").some((l) => l.startsWith(`${u.name}:`))) {
    if (!(await findTool(root, "useradd"))) {
      throw errors.failedPrecondition(`the image has no useradd to create the user ${u.name}`);
    }
    // An image may already use uid 1000 (node:*, for one); then useradd picks the next free one.
    const uidTaken = passwd.split("\n").some((l) => l.split(":")[2] === String(u.uid));
    const uid = uidTaken ? [] : ["--uid", String(u.uid)];
    await run(
      "chroot",
      [
        root,
        "useradd",
        "--create-home",
        "--home-dir",
        u.home,
        ...uid,
        "--user-group",
        "--shell",
        u.shell,
        u.name,
      ],
      { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
    );
  }
  const sudoers = join(root, "etc/sudoers.d");
  if (existsSync(sudoers)) {
    await writeFile(join(sudoers, u.name), `${u.name} ALL=(ALL:ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
  }
}

/**
 * Turns an unpacked OCI image into a bootable Wrenn guest rootfs: checks it can be one
 * ({@link checkImageTree}), stages it with the guest image's node, envd and wrenn-init
 * ({@link stageRootfs}, the stock image's own step), adds what a Wrenn guest needs
 * ({@link addGuestBasics}) and makes the ext4 ({@link makeExt4}). Failures that are the
 * image's fault are `failed_precondition` with the reason.
 */
export async function imageToGuestRootfs(input: GuestRootfsInput): Promise<Ext4Result> {
  await checkImageTree(input.treeDir);
  const max = input.maxContentBytes;
  const content = await allocatedBytes(input.treeDir);
  if (max && content > max) throw tooBig(content, max);
  const runtime = await extractRuntime(input.guest.rootfs, join(input.workDir, "runtime"));
  const staging = join(input.workDir, "staging");
  const manifest = input.guest.manifest;
  try {
    await stageRootfs(input.treeDir, staging, {
      node: { path: runtime.node, version: manifest.nodeVersion },
      envd: {
        distDir: runtime.envdDir,
        version: manifest.envdVersion,
        bundleSha256: manifest.inputs.envd.bundleSha256,
        dispose: async () => {},
      },
      scripts: {
        initramfsInit: "",
        wrennInit: await readFile(runtime.wrennInit, "utf8"),
        envdWrapper: await readFile(runtime.envdWrapper, "utf8"),
      },
      imageInfo: { ...input.imageInfo, guestImage: input.guest.hash },
    });
  } catch (err) {
    if (isWrennError(err) && err.code === "internal" && /node/.test(err.message)) {
      throw errors.failedPrecondition(
        `Wrenn's guest runtime (node ${manifest.nodeVersion}) does not run on this image's libraries ` +
          `(too old a glibc?): ${err.message.slice(0, 300)}`,
      );
    }
    throw err;
  }
  await addGuestBasics(staging, runtime.tini, input.busybox ?? BUSYBOX_PATH);
  const ext4 = await makeExt4(staging, input.out, "wrenn-root");
  await rm(staging, { recursive: true, force: true });
  if (max && ext4.contentBytes > max) {
    await rm(input.out, { force: true });
    throw tooBig(ext4.contentBytes, max);
  }
  return ext4;
}

function tooBig(content: number, max: number) {
  const mib = (n: number) => Math.ceil(n / 2 ** 20);
  return errors.failedPrecondition(
    `the image holds ${mib(content)} MiB, more than the disk size of ${Math.floor(max / 2 ** 20)} MiB`,
  );
}
