import { copyFile, link, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors, type Logger } from "@wrenn/common";
import { EnvdClient } from "../envd-client/client.ts";
import { makeGrownExt4Copy } from "../storage/disk.ts";
import { type DataLayout, TEMPLATE_FILES } from "../storage/layout.ts";
import type { Vmm, VmmFingerprint } from "../vmm/types.ts";
import {
  assertCompatible,
  compatibilityProblems,
  readMetadata,
  type SnapshotMetadata,
  writeMetadata,
} from "./metadata.ts";
import { fillRamFileHoles } from "./ram-file.ts";

/** A complete, restorable template generation. */
export interface TemplateSnapshot {
  dir: string;
  meta: SnapshotMetadata;
  kernel: string;
  initrd: string;
  rootfs: string;
  memory: string;
  state: string;
}

/** A bootable disk a snapshot can be captured from (the guest image, or a flattened template image). */
export interface TemplateImageSource {
  hash: string;
  kernel: string;
  initrd: string;
  /** Raw ext4 image. */
  rootfs: string;
}

/** The machine a template capture uses. */
export interface CaptureSettings {
  vcpus: number;
  memoryMb: number;
  diskBytes: number;
  kernelArgs: string;
  /** Kind of network attachment the capture VM (and so every restore) uses. */
  networkKind: string;
}

/** Attaches a capture VM to the network (the same kind of attachment sandboxes use, or restores fail). */
export type AttachNetwork = (
  id: string,
) => Promise<{ attachment: import("../vmm/types.ts").NetworkAttachment; release(): Promise<void> }>;

/** Files describing an image-only template (written by flatten). */
interface ImageRecord {
  hash: string;
  createdAt: string;
  source: string;
}

/** Marks a deleted template whose generations are still used by sandboxes. */
const DELETED_MARKER = "deleted";

async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Returns a snapshot view of generation `dir` if its metadata exists. */
async function openGeneration(dir: string): Promise<TemplateSnapshot | undefined> {
  const meta = await readMetadata(join(dir, TEMPLATE_FILES.meta));
  if (!meta) return undefined;
  return {
    dir,
    meta,
    kernel: join(dir, TEMPLATE_FILES.kernel),
    initrd: join(dir, TEMPLATE_FILES.initrd),
    rootfs: join(dir, TEMPLATE_FILES.rootfs),
    memory: join(dir, TEMPLATE_FILES.memory),
    state: join(dir, TEMPLATE_FILES.state),
  };
}

/**
 * Runs envd's per-sandbox code paths once before the capture (init with no
 * identity, a process start, a stat), so the JavaScript they need is already
 * compiled in the captured RAM and every sandbox's first requests are faster.
 * Leaves no identity, token or env var behind.
 */
async function warmUp(envd: EnvdClient): Promise<void> {
  // Generous limits: this is the guest's very first run of these paths, on a possibly busy host.
  await envd.init({ sandboxId: "", templateId: "", envVars: {} }, 120_000);
  await envd.exec({ cmd: "/bin/true" }, 120_000);
  await envd.filesystem.stat({ path: "/" }, { headers: envd.headers() });
}

/** Hard-links `src` to `dest` (templates are immutable), copying when linking is impossible. */
async function linkOrCopy(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch {
    await copyFile(src, dest);
  }
}

/**
 * Template snapshots on disk: generations `gen-<n>/` under each template
 * directory, each immutable once its metadata is written (running sandboxes map
 * its RAM file privately, so it must never change). A new capture makes a new
 * generation; older ones go once no sandbox refers to them.
 */
export class TemplateStore {
  private readonly captures = new Map<string, Promise<TemplateSnapshot>>();

  constructor(
    private readonly layout: DataLayout,
    private readonly vmm: Vmm,
    private readonly logger: Logger,
  ) {}

  /** The newest complete generation of a template, if any (none once the template was deleted). */
  async current(teamId: string, templateId: string): Promise<TemplateSnapshot | undefined> {
    const dir = this.layout.templateDir(teamId, templateId);
    if (await pathExists(join(dir, DELETED_MARKER))) return undefined;
    const gens = await this.generationDirs(dir);
    for (const gen of gens.reverse()) {
      const snap = await openGeneration(join(dir, gen));
      if (snap) return snap;
    }
    return undefined;
  }

  /** Opens a generation a sandbox recorded (undefined when it is gone). */
  openGeneration(dir: string): Promise<TemplateSnapshot | undefined> {
    return openGeneration(dir);
  }

  /** The image an image-only template (flattened sandbox disk) boots from, if it has one. */
  async imageSource(teamId: string, templateId: string): Promise<TemplateImageSource | undefined> {
    const dir = join(this.layout.templateDir(teamId, templateId), "image");
    try {
      const record = JSON.parse(await readFile(join(dir, TEMPLATE_FILES.image), "utf8")) as ImageRecord;
      return {
        hash: record.hash,
        kernel: join(dir, TEMPLATE_FILES.kernel),
        initrd: join(dir, TEMPLATE_FILES.initrd),
        rootfs: join(dir, TEMPLATE_FILES.rootfs),
      };
    } catch {
      return undefined;
    }
  }

  /**
   * A restorable snapshot of the template: the current generation when it is
   * compatible with this host, else a fresh capture from `source` (one capture
   * per template at a time; concurrent callers share it).
   */
  async ensureSnapshot(
    teamId: string,
    templateId: string,
    source: TemplateImageSource | undefined,
    settings: CaptureSettings,
    attach: AttachNetwork,
  ): Promise<TemplateSnapshot> {
    const fingerprint = await this.vmm.fingerprint();
    const snap = await this.current(teamId, templateId);
    if (snap && compatibilityProblems(snap.meta, fingerprint, settings.networkKind).length === 0) {
      if (!source || snap.meta.imageHash === source.hash) return snap;
    }
    if (!source) {
      if (snap) assertCompatible(snap.meta, fingerprint, settings.networkKind, `template ${templateId}`);
      throw errors.notFound(`template ${templateId} not found on this host`);
    }
    const key = `${teamId}/${templateId}`;
    let capture = this.captures.get(key);
    if (!capture) {
      capture = this.capture(teamId, templateId, source, settings, attach, fingerprint).finally(() =>
        this.captures.delete(key),
      );
      this.captures.set(key, capture);
    }
    return capture;
  }

  /** Boots `source` once, waits for envd, and captures RAM + device state into a new generation. */
  private async capture(
    teamId: string,
    templateId: string,
    source: TemplateImageSource,
    settings: CaptureSettings,
    attach: AttachNetwork,
    fingerprint: VmmFingerprint,
  ): Promise<TemplateSnapshot> {
    const started = Date.now();
    const dir = await this.newGenerationDir(teamId, templateId);
    const files = {
      kernel: join(dir, TEMPLATE_FILES.kernel),
      initrd: join(dir, TEMPLATE_FILES.initrd),
      rootfs: join(dir, TEMPLATE_FILES.rootfs),
      memory: join(dir, TEMPLATE_FILES.memory),
      state: join(dir, TEMPLATE_FILES.state),
    };
    const net = await attach(`capture-${templateId}`.slice(0, 63));
    try {
      await linkOrCopy(source.kernel, files.kernel);
      await linkOrCopy(source.initrd, files.initrd);
      await makeGrownExt4Copy(source.rootfs, files.rootfs, settings.diskBytes);
      const diskBytes = (await stat(files.rootfs)).size;
      const vm = await this.vmm.boot({
        id: `tpl-${templateId}`,
        runDir: dir,
        kernel: files.kernel,
        initrd: files.initrd,
        kernelArgs: settings.kernelArgs,
        rootDisk: { path: files.rootfs, format: "raw" },
        vcpus: settings.vcpus,
        memoryMb: settings.memoryMb,
        memory: { kind: "file-shared", path: files.memory },
        network: net.attachment,
      });
      let envdVersion: string;
      try {
        const envd = new EnvdClient(
          net.attachment.envdEndpoint.host,
          net.attachment.envdEndpoint.port,
          undefined,
        );
        envdVersion = await envd.waitHealthy(120_000, () => vm.alive);
        await warmUp(envd);
        await this.vmm.captureTemplate(vm, files.state);
      } finally {
        await vm.kill();
      }
      await fillRamFileHoles(files.memory);
      const meta: SnapshotMetadata = {
        format: 1,
        vcpus: settings.vcpus,
        memoryMb: settings.memoryMb,
        diskBytes,
        kernelArgs: settings.kernelArgs,
        imageHash: source.hash,
        kernelBytes: (await stat(files.kernel)).size,
        initrdBytes: (await stat(files.initrd)).size,
        vmm: fingerprint,
        networkKind: settings.networkKind,
        envdVersion,
        source: "image",
        createdAt: new Date().toISOString(),
      };
      await writeMetadata(join(dir, TEMPLATE_FILES.meta), meta);
      this.logger.info({ teamId, templateId, dir, ms: Date.now() - started }, "template snapshot captured");
      const snap = await openGeneration(dir);
      if (!snap) throw errors.internal("the captured template snapshot is unreadable");
      return snap;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    } finally {
      await net.release();
    }
  }

  /** Creates the next empty generation directory of a template. */
  async newGenerationDir(teamId: string, templateId: string): Promise<string> {
    const base = this.layout.templateDir(teamId, templateId);
    await mkdir(base, { recursive: true });
    await rm(join(base, DELETED_MARKER), { force: true });
    const gens = await this.generationDirs(base);
    const last = gens.length > 0 ? Number(gens[gens.length - 1]?.slice(4)) : 0;
    const dir = join(base, `gen-${String(last + 1).padStart(6, "0")}`);
    await mkdir(dir);
    return dir;
  }

  /** Records an image-only template from a flattened disk already placed at `<image>/rootfs.img`. */
  async imageDir(teamId: string, templateId: string): Promise<string> {
    const dir = join(this.layout.templateDir(teamId, templateId), "image");
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Marks an image-only template complete (kernel and initrd are linked in from `from`). */
  async completeImage(dir: string, from: { kernel: string; initrd: string }, source: string): Promise<void> {
    await linkOrCopy(from.kernel, join(dir, TEMPLATE_FILES.kernel));
    await linkOrCopy(from.initrd, join(dir, TEMPLATE_FILES.initrd));
    const record: ImageRecord = {
      hash: `${source}-${Date.now()}`,
      createdAt: new Date().toISOString(),
      source,
    };
    await writeFile(join(dir, TEMPLATE_FILES.image), `${JSON.stringify(record)}\n`);
  }

  /** True when the template exists (a deleted template whose files sandboxes still use does not). */
  async exists(teamId: string, templateId: string): Promise<boolean> {
    const dir = this.layout.templateDir(teamId, templateId);
    return (await pathExists(dir)) && !(await pathExists(join(dir, DELETED_MARKER)));
  }

  /**
   * Deletes a template (idempotent). Generations that sandboxes still use
   * (their disks are backed by its base image) stay until the last of them is
   * destroyed, hidden behind a deletion marker.
   */
  async delete(teamId: string, templateId: string, inUse: Set<string>): Promise<void> {
    const base = this.layout.templateDir(teamId, templateId);
    const entries = await readdir(base).catch(() => [] as string[]);
    const kept = entries.filter((e) => inUse.has(join(base, e)));
    if (kept.length === 0) {
      await rm(base, { recursive: true, force: true });
      return;
    }
    await writeFile(join(base, DELETED_MARKER), `${new Date().toISOString()}\n`);
    for (const e of entries) {
      if (e !== DELETED_MARKER && !kept.includes(e))
        await rm(join(base, e), { recursive: true, force: true });
    }
  }

  /**
   * Removes generations older than the current one that no sandbox uses, and
   * incomplete ones (left by a crash during capture).
   */
  async collectGarbage(teamId: string, templateId: string, inUse: Set<string>): Promise<void> {
    const base = this.layout.templateDir(teamId, templateId);
    const current = await this.current(teamId, templateId);
    for (const gen of await this.generationDirs(base)) {
      const dir = join(base, gen);
      if (dir === current?.dir || inUse.has(dir)) continue;
      if (
        this.captures.has(`${teamId}/${templateId}`) &&
        !(await readMetadata(join(dir, TEMPLATE_FILES.meta)))
      ) {
        continue; // a capture in progress
      }
      await rm(dir, { recursive: true, force: true });
      this.logger.info({ dir }, "removed old template generation");
    }
    // A deleted template disappears with the last sandbox that used it.
    if (await pathExists(join(base, DELETED_MARKER))) {
      const rest = (await readdir(base).catch(() => [] as string[])).filter((e) => e !== DELETED_MARKER);
      if (rest.length === 0) await rm(base, { recursive: true, force: true });
    }
  }

  private async generationDirs(base: string): Promise<string[]> {
    const entries = await readdir(base).catch(() => [] as string[]);
    return entries.filter((e) => /^gen-\d+$/.test(e)).sort();
  }
}
