import { mkdir } from "node:fs/promises";
import { assertSafeName, errors } from "@wrenn/common";
import { assertCompatible } from "../snapshot/metadata.ts";
import type { TemplateSnapshot } from "../snapshot/templates.ts";
import { createOverlay, MIB } from "../storage/disk.ts";
import { PLATFORM_TEAM_ID } from "../storage/layout.ts";
import type { NetworkLease } from "../vmm/network-attachment.ts";
import type { VmInstance } from "../vmm/types.ts";
import { runtimeOf } from "./adopt.ts";
import { teardown } from "./destroy.ts";
import { applySandboxEgress, checkedEgress } from "./egress.ts";
import { PhaseTimer } from "./phase-timer.ts";
import { saveRecord } from "./records.ts";
import { connectEnvd, templateSnapshot, vmSpecOf } from "./restore.ts";
import { exists, type SandboxEntry, type SandboxLimits, type SandboxTable } from "./table.ts";
import type { SandboxRecord, SandboxSpec, SandboxView } from "./types.ts";
import { WARM_DIR_PREFIX } from "./warm-pool.ts";

/** The fields of a {@link SandboxSpec} a record keeps, names checked and defaults applied. */
type CheckedSpec = Pick<
  SandboxRecord,
  | "id"
  | "teamId"
  | "templateId"
  | "templateTeamId"
  | "templateName"
  | "diskSizeMb"
  | "timeoutSec"
  | "metadata"
  | "envs"
  | "accessToken"
  | "defaultUser"
  | "defaultWorkdir"
  | "egress"
>;

/**
 * Checks `spec` (names that become paths, sizes within `limits`) and applies the defaults.
 * vCPUs and memory are only checked: a sandbox gets those its template snapshot was captured with.
 */
export function checkSpec(spec: SandboxSpec, limits: SandboxLimits): CheckedSpec {
  const id = assertSafeName(spec.sandboxId, "sandbox_id");
  if (id.startsWith(WARM_DIR_PREFIX)) {
    throw errors.invalidArgument(`sandbox ids starting with ${WARM_DIR_PREFIX} are reserved for warm VMs`);
  }
  const teamId = assertSafeName(spec.teamId, "team_id");
  const templateId = assertSafeName(spec.templateId, "template_id");
  const checked: CheckedSpec = {
    id,
    teamId,
    templateId,
    templateTeamId: assertSafeName(spec.templateTeamId || PLATFORM_TEAM_ID, "template_team_id"),
    templateName: spec.templateName ?? templateId,
    diskSizeMb: spec.diskSizeMb || limits.defaultDiskSizeMb,
    timeoutSec: spec.timeoutSec ?? 0,
    metadata: { ...spec.metadata },
    envs: { ...spec.envs },
    accessToken: spec.envdAccessToken || undefined,
    defaultUser: spec.defaultUser || undefined,
    defaultWorkdir: spec.defaultWorkdir || undefined,
    egress: checkedEgress(spec.egress),
  };
  checkSizes(limits, checked.diskSizeMb, spec.vcpus ?? 0, spec.memoryMb ?? 0);
  return checked;
}

function checkSizes(limits: SandboxLimits, diskSizeMb: number, vcpus: number, memoryMb: number): void {
  const intIn = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (!intIn(diskSizeMb, limits.maxDiskSizeMb)) {
    throw errors.invalidArgument(`disk_size_mb must be between 1 and ${limits.maxDiskSizeMb}`);
  }
  if (!intIn(vcpus, limits.maxVcpus)) {
    throw errors.invalidArgument(`vcpus must be between 1 and ${limits.maxVcpus}`);
  }
  if (!intIn(memoryMb, limits.maxMemoryMb)) {
    throw errors.invalidArgument(`memory_mb must be between 1 and ${limits.maxMemoryMb}`);
  }
}

/**
 * A VM restored ahead of demand for `snap` (the warm pool), already moved to the sandbox's
 * run directory; undefined when none fits and the create restores its own.
 */
export type ClaimWarmVm = (
  checked: Pick<SandboxRecord, "id" | "templateTeamId" | "templateId" | "diskSizeMb">,
  spec: SandboxSpec,
  snap: TemplateSnapshot,
) => Promise<{ vm: VmInstance; lease: NetworkLease } | undefined>;

/**
 * Creates a sandbox from a template snapshot and waits until its envd answers; with
 * `claimWarm`, a warm VM is taken instead of restoring one when the pool has one that fits.
 */
export async function createSandbox(
  table: SandboxTable,
  spec: SandboxSpec,
  claimWarm?: ClaimWarmVm,
): Promise<SandboxView> {
  const checked = checkSpec(spec, table.limits);
  const { id } = checked;
  const { vmm, network, logger, layout, hooks } = table.options;
  return table.lock.run(id, async () => {
    if (table.entries.has(id) || (await exists(table.sandboxDir(id)))) {
      throw errors.alreadyExists(`sandbox ${id} already exists`);
    }
    const snap = await templateSnapshot(table, checked.templateTeamId, checked.templateId);
    assertCompatible(
      snap.meta,
      await vmm.fingerprint(),
      network.kind,
      `template ${spec.templateName || checked.templateId}`,
    );
    const diskBytes = checked.diskSizeMb * MIB;
    if (diskBytes < snap.meta.diskBytes) {
      throw errors.invalidArgument(
        `disk_size_mb must be at least the template's ${Math.ceil(snap.meta.diskBytes / MIB)} MB`,
      );
    }
    const entry: SandboxEntry = { record: newRecord(checked, snap, network.kind) };
    table.entries.set(id, entry);
    const phases = new PhaseTimer();
    try {
      const warm = await claimWarm?.(checked, spec, snap);
      if (warm) {
        entry.vm = warm.vm;
        entry.lease = warm.lease;
        // The warm VM's network was made before this sandbox's policy was known.
        await applySandboxEgress(entry);
        // Saved at once: the VM runs under its pool name, which recovery must know to end it.
        entry.record.runtime = await runtimeOf(warm.vm, warm.lease);
        await saveRecord(layout, entry.record);
        phases.mark("warm");
      } else {
        await mkdir(table.sandboxDir(id), { recursive: true });
        // Disk and network do not depend on each other: set them up side by side.
        const [disk, lease] = await Promise.allSettled([
          createOverlay(snap.rootfs, "raw", table.diskPath(id), diskBytes).then(() =>
            saveRecord(layout, entry.record),
          ),
          network.acquire(id),
        ]);
        if (lease.status === "fulfilled") entry.lease = lease.value;
        if (disk.status === "rejected") throw disk.reason;
        if (lease.status === "rejected") throw lease.reason;
        entry.lease = lease.value;
        // On the network before the guest runs (networks are made ahead, before a policy is known).
        await applySandboxEgress(entry);
        phases.mark("disk+network");
        entry.vm = await vmm.restore(
          vmSpecOf(table, entry, snap, { kind: "file-private", path: snap.memory }),
          {
            kind: "template",
            stateFile: snap.state,
          },
        );
        phases.mark("restore");
      }
      await connectEnvd(table, entry, entry.vm, snap.meta.envdAccessToken);
      phases.mark("envd");
      if (!warm && diskBytes > snap.meta.diskBytes) await growGuestDisk(entry, diskBytes);
      logger.debug({ sandboxId: id, ms: phases.result() }, "sandbox created");
      entry.record.state = "running";
      // The inactivity clock starts when the sandbox is usable, not when its creation began.
      entry.record.lastActiveAt = new Date().toISOString();
      entry.record.runtime = await runtimeOf(entry.vm, entry.lease);
      await saveRecord(layout, entry.record);
      hooks?.onVmStarted?.(id, entry.vm.pid, table.diskPath(id));
      return table.view(entry);
    } catch (err) {
      await teardown(table, entry);
      table.entries.delete(id);
      throw table.failure(err, `sandbox ${id} failed to start`);
    }
  });
}

/** The record of a sandbox about to start from `snap` (vCPUs and memory are the snapshot's). */
function newRecord(checked: CheckedSpec, snap: TemplateSnapshot, networkKind: string): SandboxRecord {
  const now = new Date().toISOString();
  return {
    ...checked,
    generationDir: snap.dir,
    vcpus: snap.meta.vcpus,
    memoryMb: snap.meta.memoryMb,
    state: "starting",
    autoPaused: false,
    envdVersion: snap.meta.envdVersion,
    createdAt: now,
    lastActiveAt: now,
    networkKind,
  };
}

/**
 * Grows the disk beyond the template's size: QEMU tells the guest about the
 * new capacity, then the ext4 file system is grown online from inside.
 */
export async function growGuestDisk(entry: SandboxEntry, bytes: number): Promise<void> {
  if (!entry.vm || !entry.envd) return;
  await entry.vm.resizeRootDisk(bytes);
  const sectors = Math.floor(bytes / 512);
  const script = `for i in $(seq 100); do [ "$(cat /sys/block/vda/size)" -ge ${sectors} ] && break; sleep 0.05; done; resize2fs /dev/vda`;
  const result = await entry.envd.exec({ cmd: "/bin/sh", args: ["-c", script], user: "root" }, 120_000);
  if (result.exitCode !== 0) {
    throw errors.internal(
      "growing the guest's file system failed",
      new Error(`resize2fs in the guest failed: ${result.stderr.toString("utf8").slice(0, 300)}`),
    );
  }
}
