import { execFile } from "node:child_process";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { assertSafeName, errors, isWrennError, type Logger } from "@wrenn/common";
import { type SnapshotMetadata, writeMetadata } from "../snapshot/metadata.ts";
import { fillRamFileHoles } from "../snapshot/ram-file.ts";
import type { TemplateStore } from "../snapshot/templates.ts";
import { allocatedBytes, flattenToRaw } from "../storage/disk.ts";
import { SANDBOX_FILES, TEMPLATE_FILES } from "../storage/layout.ts";
import type { Vmm } from "../vmm/types.ts";
import { type ImportImageInput, importImage } from "./image-import.ts";
import type { SandboxManager } from "./manager.ts";

const run = promisify(execFile);

/**
 * Templates made from sandboxes: a full snapshot (RAM + device state + disk)
 * of a running sandbox that keeps running, an image-only template from a
 * sandbox's flattened disk, and deletion.
 */
export class TemplateOperations {
  constructor(
    private readonly manager: SandboxManager,
    private readonly templates: TemplateStore,
    private readonly vmm: Vmm,
    private readonly logger: Logger,
  ) {}

  /**
   * Captures a running sandbox as template `teams/{teamId}/{templateId}`. The
   * guest is stopped only while its state is written and its disk overlay copied.
   */
  async createSnapshot(
    sandboxId: string,
    teamId: string,
    templateId: string,
  ): Promise<{ sizeBytes: number; vcpus: number; memoryMb: number }> {
    assertSafeName(teamId, "team_id");
    assertSafeName(templateId, "template_id");
    return this.manager.withSandbox(sandboxId, async ({ record, vm, dir }) => {
      if (record.state !== "running" || !vm) {
        throw errors.failedPrecondition(
          `sandbox ${sandboxId} is ${record.state}; only running sandboxes can be snapshotted`,
        );
      }
      if (await this.templates.exists(teamId, templateId)) {
        throw errors.alreadyExists(`template ${templateId} already exists on this host; delete it first`);
      }
      const source = await this.templates.openGeneration(record.generationDir);
      if (!source)
        throw errors.failedPrecondition(`the template sandbox ${sandboxId} was started from is gone`);
      const gen = await this.templates.newGenerationDir(teamId, templateId);
      const fullState = join(gen, "full.state");
      const overlayCopy = join(gen, "overlay.qcow2");
      const rootfs = join(gen, TEMPLATE_FILES.rootfs);
      const started = Date.now();
      try {
        // Nobody waits on the state as on a fork's: the sandbox runs while its RAM is written
        // where QEMU can do that (a longer save, a stop of tens of milliseconds).
        await this.vmm.checkpoint(
          vm,
          fullState,
          async () => {
            await run("cp", ["--sparse=always", join(dir, SANDBOX_FILES.disk), overlayCopy]);
          },
          undefined,
          { background: true },
        );
        await flattenToRaw(overlayCopy, rootfs);
        await rm(overlayCopy, { force: true });
        await run("cp", ["--reflink=auto", source.kernel, join(gen, TEMPLATE_FILES.kernel)]);
        await run("cp", ["--reflink=auto", source.initrd, join(gen, TEMPLATE_FILES.initrd)]);
        const lease = await this.manager.network.acquire(`snap-${templateId}`.slice(0, 63));
        try {
          await this.vmm.convertFullToTemplate(
            {
              id: `tpl-${templateId}`,
              runDir: gen,
              kernel: join(gen, TEMPLATE_FILES.kernel),
              initrd: join(gen, TEMPLATE_FILES.initrd),
              kernelArgs: source.meta.kernelArgs,
              rootDisk: { path: rootfs, format: "raw" },
              vcpus: source.meta.vcpus,
              memoryMb: source.meta.memoryMb,
              memory: { kind: "anonymous" },
              network: lease.attachment,
            },
            fullState,
            join(gen, TEMPLATE_FILES.memory),
            join(gen, TEMPLATE_FILES.state),
          );
        } finally {
          await lease.release();
        }
        await fillRamFileHoles(join(gen, TEMPLATE_FILES.memory));
        await rm(fullState, { force: true });
        const meta: SnapshotMetadata = {
          ...source.meta,
          diskBytes: (await stat(rootfs)).size,
          envdVersion: record.envdVersion,
          envdAccessToken: record.accessToken,
          source: `sandbox:${sandboxId}`,
          createdAt: new Date().toISOString(),
        };
        await writeMetadata(join(gen, TEMPLATE_FILES.meta), meta);
      } catch (err) {
        await this.templates.delete(teamId, templateId, new Set());
        if (isWrennError(err)) throw err;
        this.logger.error({ err, sandboxId, templateId }, "snapshot failed");
        throw errors.internal(`snapshot of sandbox ${sandboxId} failed`, err);
      }
      this.manager.touch(sandboxId);
      this.logger.info({ sandboxId, teamId, templateId, ms: Date.now() - started }, "sandbox snapshotted");
      return {
        sizeBytes: await dirAllocatedBytes(gen),
        vcpus: source.meta.vcpus,
        memoryMb: source.meta.memoryMb,
      };
    });
  }

  /** Makes image-only template `teams/{teamId}/{templateId}` of an OCI image (see {@link importImage}). */
  importImage(req: ImportImageInput): Promise<{ sizeBytes: number; digest: string }> {
    return importImage(
      { templates: this.templates, guestImage: () => this.manager.guestImage(), logger: this.logger },
      req,
    );
  }

  /** Deletes a template from this host (idempotent). */
  async deleteSnapshot(teamId: string, templateId: string): Promise<void> {
    assertSafeName(teamId, "team_id");
    assertSafeName(templateId, "template_id");
    // Warm VMs of the template hold its generation: they go first, so the files can.
    await this.manager.drainWarmPool(teamId, templateId);
    await this.templates.delete(teamId, templateId, this.manager.generationsInUse());
  }

  /**
   * Turns a running sandbox's disk into the base image of an image-only
   * template, then destroys the sandbox. The guest syncs its page cache first,
   * so what it wrote is on the disk when the VM stops.
   */
  async flattenRootfs(sandboxId: string, teamId: string, templateId: string): Promise<{ sizeBytes: number }> {
    assertSafeName(teamId, "team_id");
    assertSafeName(templateId, "template_id");
    const sizeBytes = await this.manager.withSandbox(sandboxId, async ({ record, vm, dir, envd }) => {
      if (record.state !== "running" || !vm || !envd) {
        throw errors.failedPrecondition(
          `sandbox ${sandboxId} is ${record.state}; only running sandboxes can be flattened`,
        );
      }
      if (await this.templates.exists(teamId, templateId)) {
        throw errors.alreadyExists(`template ${templateId} already exists on this host; delete it first`);
      }
      const source = await this.templates.openGeneration(record.generationDir);
      if (!source)
        throw errors.failedPrecondition(`the template sandbox ${sandboxId} was started from is gone`);
      const synced = await envd.exec({ cmd: "/bin/sync", user: "root" }, 60_000).catch(() => undefined);
      if (synced?.exitCode !== 0) this.logger.warn({ sandboxId }, "guest sync before flatten failed");
      await vm.kill();
      const imageDir = await this.templates.imageDir(teamId, templateId);
      try {
        const rootfs = join(imageDir, TEMPLATE_FILES.rootfs);
        await flattenToRaw(join(dir, SANDBOX_FILES.disk), rootfs);
        await this.templates.completeImage(imageDir, source, `sandbox-${sandboxId}`);
        return await allocatedBytes(rootfs);
      } catch (err) {
        await this.templates.delete(teamId, templateId, new Set());
        this.logger.error({ err, sandboxId, templateId }, "flatten failed");
        throw errors.internal(`flattening sandbox ${sandboxId} failed`, err);
      }
    });
    await this.manager.destroy(sandboxId);
    return { sizeBytes };
  }
}

async function dirAllocatedBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += await allocatedBytes(join(dir, name));
  return total;
}
