import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildEnvdBundle, type EnvdBundle } from "./envd-bundle.ts";
import { sha256, sha256File } from "./fsutil.ts";
import {
  findGuestKernel,
  type GuestKernel,
  INITRAMFS_MODULES,
  type KernelModule,
  resolveModules,
} from "./kernel.ts";
import { DEBIAN_SUITE, ROOTFS_PACKAGES, rootfsBaseKey } from "./rootfs-base.ts";

/** Bump to force new images everywhere without any other change. */
export const PIPELINE_VERSION = 1;

const SRC_DIR = dirname(fileURLToPath(import.meta.url));
const GUEST_DIR = join(SRC_DIR, "../guest");

/** Files in `src/` that do not shape the image (tests and the test-only QEMU helper). */
const NOT_PIPELINE = /(\.test\.ts|^qemu-boot\.ts)$/;

/**
 * Hash of the pipeline's own source, so a change to how images are assembled (file
 * placement, ext4 options, initramfs layout) yields a new image without anyone having to
 * remember to bump {@link PIPELINE_VERSION}.
 */
export async function pipelineSourcesSha256(): Promise<string> {
  const names = (await readdir(SRC_DIR)).filter((n) => n.endsWith(".ts") && !NOT_PIPELINE.test(n)).sort();
  const parts = await Promise.all(
    names.map(async (n) => `${n}\0${sha256(await readFile(join(SRC_DIR, n)))}`),
  );
  return sha256(parts.join("\n"));
}

/** Where the busybox-static package installs its binary. */
export const BUSYBOX_PATH = "/bin/busybox";

/** The guest scripts shipped in `images/guest/`. */
export interface GuestScripts {
  initramfsInit: string;
  wrennInit: string;
  envdWrapper: string;
}

/** Reads the guest scripts from `images/guest/`. */
export async function readGuestScripts(): Promise<GuestScripts> {
  const read = (name: string) => readFile(join(GUEST_DIR, name), "utf8");
  return {
    initramfsInit: await read("initramfs-init.sh"),
    wrennInit: await read("wrenn-init.sh"),
    envdWrapper: await read("envd-wrapper.sh"),
  };
}

/** The node binary copied into the guest (the one running this build). */
export interface NodeRuntime {
  path: string;
  version: string;
}

/** Everything an image is made from, resolved to concrete files and versions. */
export interface ResolvedInputs {
  kernel: GuestKernel;
  modules: KernelModule[];
  scripts: GuestScripts;
  envd: EnvdBundle;
  node: NodeRuntime;
  busyboxPath: string;
}

/** The fingerprint of {@link ResolvedInputs} recorded in the manifest; its hash names the image. */
export interface InputFingerprint {
  pipelineVersion: number;
  pipelineSourcesSha256: string;
  debianSuite: string;
  rootfsPackages: string[];
  rootfsBaseKey: string;
  kernel: { version: string; sha256: string };
  modules: Array<{ name: string; sha256: string }>;
  busyboxSha256: string;
  scripts: { initramfsInit: string; wrennInit: string; envdWrapper: string };
  envd: { version: string; bundleSha256: string };
  node: { version: string; sha256: string };
}

/** Resolves the inputs: finds the kernel and modules, reads the scripts, builds envd. */
export async function resolveInputs(): Promise<ResolvedInputs> {
  const kernel = await findGuestKernel();
  return {
    kernel,
    modules: await resolveModules(kernel.modulesDir, INITRAMFS_MODULES),
    scripts: await readGuestScripts(),
    envd: await buildEnvdBundle(),
    node: { path: process.execPath, version: process.version },
    busyboxPath: BUSYBOX_PATH,
  };
}

/**
 * Hashes every input. Full-content hashes throughout: the largest file, the ~100 MB node
 * binary, hashes in about 0.2 s here, so a cached re-run stays well within its budget.
 */
export async function fingerprintInputs(inputs: ResolvedInputs): Promise<InputFingerprint> {
  return {
    pipelineVersion: PIPELINE_VERSION,
    pipelineSourcesSha256: await pipelineSourcesSha256(),
    debianSuite: DEBIAN_SUITE,
    rootfsPackages: [...ROOTFS_PACKAGES],
    rootfsBaseKey: rootfsBaseKey(),
    kernel: { version: inputs.kernel.version, sha256: await sha256File(inputs.kernel.vmlinuz) },
    modules: await Promise.all(
      inputs.modules.map(async (m) => ({ name: m.name, sha256: await sha256File(m.path) })),
    ),
    busyboxSha256: await sha256File(inputs.busyboxPath),
    scripts: {
      initramfsInit: sha256(inputs.scripts.initramfsInit),
      wrennInit: sha256(inputs.scripts.wrennInit),
      envdWrapper: sha256(inputs.scripts.envdWrapper),
    },
    envd: {
      version: inputs.envd.version,
      bundleSha256: inputs.envd.bundleSha256,
    },
    node: { version: inputs.node.version, sha256: await sha256File(inputs.node.path) },
  };
}

/** The image hash: 16 hex characters of the SHA-256 of the fingerprint. */
export function imageHash(fingerprint: InputFingerprint): string {
  return sha256(JSON.stringify(fingerprint)).slice(0, 16);
}
