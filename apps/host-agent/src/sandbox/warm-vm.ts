import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { setPriority } from "node:os";
import { errors } from "@wrenn/common";
import { assertCompatible } from "../snapshot/metadata.ts";
import { createOverlay, MIB } from "../storage/disk.ts";
import type { NetworkLease } from "../vmm/network-attachment.ts";
import type { VmInstance } from "../vmm/types.ts";
import { growGuestDisk } from "./create.ts";
import { connectEnvd, templateSnapshot, vmSpecOf } from "./restore.ts";
import type { SandboxEntry, SandboxTable } from "./table.ts";
import type { SandboxRecord } from "./types.ts";
import type { WarmPoolBackend, WarmTemplate, WarmVmInfo } from "./warm-pool.ts";

/** Nice value of a warm VM's threads while it waits in the pool: sandboxes in use come first. */
const POOLED_NICE = 10;

/** A VM restored for the pool: running, envd answering with the template's token, no identity yet. */
export interface WarmVm extends WarmVmInfo {
  readonly vm: VmInstance;
  readonly lease: NetworkLease;
  /** The template's envd token: the `/init` that hands the VM over presents it to replace it. */
  readonly capturedToken: string | undefined;
  readonly alive: boolean;
}

/**
 * The warm pool's real VMs: restored from the template snapshot exactly as a create restores
 * (disk overlay and network side by side, QEMU from the template's state, envd answering, the
 * disk grown to the default size), under a `_warm-…` run directory and not in the sandbox
 * table, so no listing, metrics or team ever sees them. Handing one over renames that
 * directory to the sandbox's.
 */
export class WarmVmBackend implements WarmPoolBackend<WarmVm> {
  constructor(private readonly table: SandboxTable) {}

  async start(template: WarmTemplate, poolId: string): Promise<WarmVm> {
    const { table } = this;
    const { vmm, network } = table.options;
    const snap = await templateSnapshot(table, template.teamId, template.templateId);
    assertCompatible(snap.meta, await vmm.fingerprint(), network.kind, `template ${template.templateName}`);
    const diskSizeMb = table.limits.defaultDiskSizeMb;
    const diskBytes = diskSizeMb * MIB;
    if (diskBytes < snap.meta.diskBytes) {
      throw errors.failedPrecondition(`template ${template.templateName} is larger than the default disk`);
    }
    const entry: SandboxEntry = { record: placeholderRecord(poolId, template, snap.dir) };
    try {
      await mkdir(table.sandboxDir(poolId), { recursive: true });
      const [disk, lease] = await Promise.allSettled([
        createOverlay(snap.rootfs, "raw", table.diskPath(poolId), diskBytes),
        network.acquire(poolId),
      ]);
      if (lease.status === "fulfilled") entry.lease = lease.value;
      if (disk.status === "rejected") throw disk.reason;
      if (lease.status === "rejected") throw lease.reason;
      entry.vm = await vmm.restore(
        vmSpecOf(table, entry, snap, { kind: "file-private", path: snap.memory }),
        {
          kind: "template",
          stateFile: snap.state,
        },
      );
      await renice(entry.vm.pid, POOLED_NICE);
      // An `/init` without identity: envd answers from now on, its clock is set and its
      // request path translated, so the `/init` of the hand-over is one quick round trip.
      entry.record.accessToken = snap.meta.envdAccessToken;
      await connectEnvd(table, entry, entry.vm, snap.meta.envdAccessToken);
      if (diskBytes > snap.meta.diskBytes) await growGuestDisk(entry, diskBytes);
    } catch (err) {
      await this.remove(poolId, entry.vm, entry.lease);
      throw err;
    }
    const { vm, lease } = entry;
    if (!vm || !lease) throw errors.internal("warm VM without a VM or network lease");
    return {
      poolId,
      generationDir: snap.dir,
      vcpus: snap.meta.vcpus,
      memoryMb: snap.meta.memoryMb,
      diskSizeMb,
      vm,
      lease,
      capturedToken: snap.meta.envdAccessToken,
      get alive() {
        return vm.alive;
      },
    };
  }

  async destroy(warm: WarmVm): Promise<void> {
    await this.remove(warm.poolId, warm.vm, warm.lease);
  }

  /**
   * Makes `warm` sandbox `sandboxId`'s VM: its run directory (disk overlay, pid file, QMP
   * socket, logs: QEMU keeps its open files) becomes the sandbox's and its threads get the
   * normal priority back. Undefined (the VM destroyed) when that fails: the create then
   * restores a VM of its own.
   */
  async handOver(
    warm: WarmVm,
    sandboxId: string,
  ): Promise<{ vm: VmInstance; lease: NetworkLease } | undefined> {
    try {
      if (!warm.alive) throw new Error("the warm VM has exited");
      await rename(this.table.sandboxDir(warm.poolId), this.table.sandboxDir(sandboxId));
    } catch (err) {
      this.table.logger.warn({ err, poolId: warm.poolId, sandboxId }, "warm VM hand-over failed");
      await this.destroy(warm);
      return undefined;
    }
    await renice(warm.vm.pid, 0);
    return { vm: warm.vm, lease: warm.lease };
  }

  private async remove(poolId: string, vm: VmInstance | undefined, lease: NetworkLease | undefined) {
    const { logger } = this.table;
    await vm?.kill().catch((err) => logger.error({ err, poolId }, "warm VM kill failed"));
    await lease?.release().catch((err) => logger.error({ err, poolId }, "warm VM network release failed"));
    await rm(this.table.sandboxDir(poolId), { recursive: true, force: true });
  }
}

/** The record a warm VM starts under: its pool id and template, no team, never saved. */
function placeholderRecord(poolId: string, template: WarmTemplate, generationDir: string): SandboxRecord {
  const now = new Date().toISOString();
  return {
    id: poolId,
    teamId: "",
    templateId: template.templateId,
    templateTeamId: template.teamId,
    templateName: template.templateName,
    generationDir,
    vcpus: 0,
    memoryMb: 0,
    diskSizeMb: 0,
    timeoutSec: 0,
    metadata: {},
    envs: {},
    state: "starting",
    autoPaused: false,
    envdVersion: "",
    createdAt: now,
    lastActiveAt: now,
    networkKind: "",
  };
}

/**
 * Sets the nice value of every thread of process `pid` (QEMU's vCPU and I/O threads each have
 * their own). Only as root, which alone may lower it again at hand-over; best effort.
 */
async function renice(pid: number, nice: number): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tids) {
    try {
      setPriority(Number(tid), nice);
    } catch {
      // The thread ended meanwhile.
    }
  }
}
