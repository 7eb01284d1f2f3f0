import { existsSync } from "node:fs";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  stat,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { findDebianMirror } from "./debian-mirror.ts";
import { safeRemove, sha256File } from "./fsutil.ts";
import { ENVD_PORT, GUEST_NETWORK, guestKernelCmdline } from "./guest-config.ts";
import { ensureHostPackages } from "./host-packages.ts";
import { buildInitramfs } from "./initramfs.ts";
import {
  fingerprintInputs,
  type InputFingerprint,
  imageHash,
  type ResolvedInputs,
  resolveInputs,
} from "./inputs.ts";
import { acquireLock } from "./lock.ts";
import { type ImageManifest, MANIFEST_SCHEMA_VERSION } from "./manifest.ts";
import { IMAGE_FILES, type ImageLayout, imageLayout } from "./paths.ts";
import { type ProgressListener, StepReporter } from "./progress.ts";
import { checkKeep, pruneWhileLocked } from "./prune.ts";
import { type GuestImage, readGuestImage } from "./resolve.ts";
import { makeExt4, stageRootfs } from "./rootfs.ts";
import {
  DEBIAN_SUITE,
  DEFAULT_USER,
  ensureRootfsBase,
  installedVersion,
  ROOTFS_PACKAGES,
} from "./rootfs-base.ts";

/** Options for {@link buildGuestImage}. */
export interface BuildOptions {
  /** Defaults to `WRENN_DATA_DIR`, else `/var/lib/wrenn`. */
  dataDir?: string;
  /** Rebuild even when an image with the same input hash exists (the debootstrap cache is still reused). */
  force?: boolean;
  onProgress?: ProgressListener;
  /**
   * After building a new image, keep this many of the newest images and delete the rest
   * (default {@link DEFAULT_KEEP_IMAGES}) so repeated builds do not fill the disk.
   */
  keep?: number;
}

/** How many images a build leaves in place by default. */
export const DEFAULT_KEEP_IMAGES = 3;

/** The result of {@link buildGuestImage}: the image, and whether it was already there. */
export type BuildResult = GuestImage & { cached: boolean };

const MIB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

/**
 * Builds the guest image (kernel, initramfs, ext4 rootfs, manifest) into
 * `<dataDir>/images/base/<hash>/`, where the hash covers every input. Returns at once when
 * that image exists. Builds happen in a `tmp-*` directory that is renamed into place after
 * the manifest is written, under a lock, so an interrupted build never yields an image that
 * looks complete.
 */
export async function buildGuestImage(opts: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const report = new StepReporter(opts.onProgress);
  const layout = imageLayout(opts.dataDir);
  if (opts.keep !== undefined) checkKeep(opts.keep);

  await report.step("host-packages", "checking host Debian packages", () =>
    ensureHostPackages((line) => report.info("host-packages", line)),
  );
  const { inputs, fingerprint, hash } = await report.step(
    "inputs",
    "resolving inputs (kernel, modules, envd build, node)",
    async () => {
      const inputs = await resolveInputs();
      try {
        const fingerprint = await fingerprintInputs(inputs);
        return { inputs, fingerprint, hash: imageHash(fingerprint) };
      } catch (err) {
        await inputs.envd.dispose();
        throw err;
      }
    },
    (r) =>
      `image ${r.hash}: kernel ${r.inputs.kernel.version}, envd ${r.inputs.envd.version}, node ${r.inputs.node.version}`,
  );

  try {
    return await assemble({
      layout,
      inputs,
      fingerprint,
      hash,
      force: opts.force ?? false,
      keep: opts.keep ?? DEFAULT_KEEP_IMAGES,
      dataDir: opts.dataDir,
      report,
      started,
    });
  } finally {
    await inputs.envd.dispose();
  }
}

/** What {@link assemble} works from. */
interface AssembleContext {
  layout: ImageLayout;
  inputs: ResolvedInputs;
  fingerprint: InputFingerprint;
  hash: string;
  force: boolean;
  keep: number;
  dataDir: string | undefined;
  report: StepReporter;
  started: number;
}

/** Returns the image for `ctx.hash`, building and publishing it unless it already exists. */
async function assemble(ctx: AssembleContext): Promise<BuildResult> {
  const { layout, inputs, fingerprint, hash, report, started } = ctx;
  const target = layout.imageDir(hash);
  if (!ctx.force) {
    const existing = await readGuestImage(target);
    if (existing) {
      report.cached("image", `image ${hash} is up to date (${target})`);
      return { ...existing, cached: true };
    }
  }

  await mkdir(layout.root, { recursive: true });
  const release = await acquireLock(layout.lockFile, {
    onWait: (pid) => report.info("lock", `waiting for the image build in process ${pid}`),
  });
  let work: string | undefined;
  try {
    if (!ctx.force) {
      // Another build may have produced this very image while we waited for the lock.
      const existing = await readGuestImage(target);
      if (existing) {
        report.cached("image", `image ${hash} was built concurrently (${target})`);
        return { ...existing, cached: true };
      }
    }
    await removeAbandonedBuilds(layout.root, layout.cacheDir, report);
    work = await mkdtemp(join(layout.root, "tmp-"));
    const dir = work;
    // mkdtemp makes the directory private; a finished image is meant to be readable.
    await chmod(dir, 0o755);

    await report.step("kernel", `copying kernel ${inputs.kernel.version}`, () =>
      copyFile(inputs.kernel.vmlinuz, join(dir, IMAGE_FILES.kernel)),
    );
    const initrdBytes = await report.step(
      "initramfs",
      `building initramfs (busybox + ${inputs.modules.map((m) => m.name).join(", ")})`,
      async () => {
        const data = await buildInitramfs({
          busybox: await readFile(inputs.busyboxPath),
          initScript: inputs.scripts.initramfsInit,
          modules: inputs.modules,
        });
        await writeFile(join(dir, IMAGE_FILES.initrd), data);
        return data.length;
      },
      (n) => `initramfs ${mib(n)}`,
    );

    const mirror = await findDebianMirror(DEBIAN_SUITE);
    const base = await report.step(
      "rootfs-base",
      `debootstrap ${DEBIAN_SUITE} minbase (cached by its inputs)`,
      () => ensureRootfsBase(layout, mirror, (line) => report.info("rootfs-base", line)),
      (b) => (b.cached ? `reused cached debootstrap tree ${b.key}` : `debootstrap tree ${b.key} built`),
    );

    const staging = join(dir, "staging");
    await report.step("rootfs-stage", "adding node, envd and wrenn-init to the rootfs", () =>
      stageRootfs(base.dir, staging, {
        node: inputs.node,
        envd: inputs.envd,
        scripts: inputs.scripts,
        imageInfo: { hash, envdVersion: inputs.envd.version, kernelVersion: inputs.kernel.version },
      }),
    );
    const ext4 = await report.step(
      "rootfs-ext4",
      "making the ext4 image (mke2fs -d)",
      () => makeExt4(staging, join(dir, IMAGE_FILES.rootfs)),
      (r) =>
        `rootfs ${mib(r.contentBytes)} content, ${mib(r.apparentBytes)} apparent, ${mib(r.allocatedBytes)} on disk`,
    );
    const versions: Record<string, string> = {};
    for (const pkg of ROOTFS_PACKAGES) versions[pkg] = (await installedVersion(staging, pkg)) ?? "";
    await safeRemove(staging);

    const manifest: ImageManifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      hash,
      builtAt: new Date().toISOString(),
      buildDurationMs: Math.round(performance.now() - started),
      kernelVersion: inputs.kernel.version,
      envdVersion: inputs.envd.version,
      nodeVersion: inputs.node.version,
      debian: { suite: DEBIAN_SUITE, mirror, packages: [...ROOTFS_PACKAGES], versions },
      inputs: fingerprint,
      artifacts: {
        kernel: await artifact(dir, IMAGE_FILES.kernel),
        initrd: { ...(await artifact(dir, IMAGE_FILES.initrd)), bytes: initrdBytes },
        rootfs: {
          file: IMAGE_FILES.rootfs,
          bytes: ext4.apparentBytes,
          allocatedBytes: ext4.allocatedBytes,
          contentBytes: ext4.contentBytes,
        },
      },
      guest: {
        address: GUEST_NETWORK.address,
        prefixLength: GUEST_NETWORK.prefixLength,
        gateway: GUEST_NETWORK.gateway,
        envdPort: ENVD_PORT,
        defaultUser: DEFAULT_USER.name,
        kernelCmdline: guestKernelCmdline(),
      },
    };
    // The manifest is what marks an image complete, so it is written last.
    await writeFile(join(dir, IMAGE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
    await publish(dir, target, layout.root);
    work = undefined;
    for (const old of await pruneWhileLocked(ctx.dataDir, ctx.keep)) {
      report.info("prune", `removed old image ${old.hash} (built ${old.manifest.builtAt})`);
    }

    const image = await readGuestImage(target);
    if (!image) throw new Error(`image ${hash} vanished after publishing`);
    report.info(
      "image",
      `image ${hash} ready in ${target} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    return { ...image, cached: false };
  } finally {
    if (work) await safeRemove(work);
    await release();
  }
}

async function artifact(dir: string, file: string): Promise<{ file: string; bytes: number; sha256: string }> {
  const path = join(dir, file);
  return { file, bytes: (await stat(path)).size, sha256: await sha256File(path) };
}

/** Renames the finished build into place; a forced rebuild first moves the old image aside. */
async function publish(dir: string, target: string, root: string): Promise<void> {
  await mkdir(join(target, ".."), { recursive: true });
  if (existsSync(target)) {
    const old = await mkdtemp(join(root, "tmp-replaced-"));
    await rename(target, join(old, "image"));
    await rename(dir, target);
    await safeRemove(old);
    return;
  }
  await rename(dir, target);
}

/** Deletes `tmp-*` directories left by builds that crashed (we hold the lock, so none is live). */
async function removeAbandonedBuilds(root: string, cacheDir: string, report: StepReporter): Promise<void> {
  for (const parent of [root, cacheDir]) {
    if (!existsSync(parent)) continue;
    for (const name of await readdir(parent)) {
      if (!name.startsWith("tmp-")) continue;
      report.info("cleanup", `removing abandoned build ${join(parent, name)}`);
      await safeRemove(join(parent, name));
    }
  }
}
