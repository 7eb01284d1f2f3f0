import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { assertSafeName, errors } from "@wrenn/common";
import type { TemplateSnapshot } from "../snapshot/templates.ts";
import { MIB } from "../storage/disk.ts";
import type { NetworkLease } from "../vmm/network-attachment.ts";
import type { RestoreSource, VmSpec } from "../vmm/types.ts";
import { runtimeOf } from "./adopt.ts";
import { changedAgainstTemplate, ReducedStateFailed, reducedStateSource } from "./changed-pages.ts";
import { teardown } from "./destroy.ts";
import { applySandboxEgress } from "./egress.ts";
import {
  collectForkCaptures,
  createOverlayUnsafe,
  FORK_FILES,
  forkCaptureDir,
  forkMemoryPath,
  pendingCaptures,
} from "./fork-captures.ts";
import { PhaseTimer } from "./phase-timer.ts";
import { saveRecord } from "./records.ts";
import { connectEnvd, vmSpecOf } from "./restore.ts";
import { exists, type SandboxEntry, type SandboxTable } from "./table.ts";
import type { SandboxRecord, SandboxView } from "./types.ts";

const run = promisify(execFile);

/** Most forks one call makes (the control plane's own limit is lower). */
export const MAX_FORKS_PER_CALL = 16;

/** One sandbox a fork makes: its identity; everything else comes from the source. */
export interface ForkTarget {
  sandboxId: string;
  /** envd's new access token (handed over through `/init`, as on create). */
  envdAccessToken?: string | undefined;
  /** Replaces the source's metadata when given. */
  metadata?: Record<string, string> | undefined;
  /** Inactivity timeout; the source's when absent. */
  timeoutSec?: number | undefined;
}

/** What a fork made, and how long the source was stopped for it. */
export interface ForkResult {
  sandboxes: SandboxView[];
  sourceStoppedMs: number;
  /** Whether the source ran while its RAM was written (see `Vmm.checkpoint`). */
  sourceRanDuringSave: boolean;
}

/**
 * Forks the running sandbox `sourceId` into one sandbox per target, each continuing from the
 * source's memory, processes and files at one instant while the source keeps running.
 *
 * The source is stopped only while its RAM + device state are written out and its disk
 * overlay is copied (the capture's `disk.qcow2`, the read-only base of every fork's overlay);
 * meanwhile every fork's directory, overlay and network slot are made. The first fork
 * restores straight from that state (over a private mapping of the template's RAM file, and
 * with only the pages the source changed against that file when they are known), so it
 * answers without waiting for anything else. With more than one fork, the RAM is turned at the same
 * time into a file the other forks map private copy-on-write, exactly as sandboxes map a
 * template's, so they share its pages. Every fork gets its own identity and token through
 * envd's `/init`. All or nothing: when one fork fails, every fork of the call is torn down.
 */
export async function forkSandbox(
  table: SandboxTable,
  sourceId: string,
  targets: ForkTarget[],
  options: { backgroundSave?: boolean } = {},
): Promise<ForkResult> {
  const background = options.backgroundSave ?? table.options.forkBackgroundSave === true;
  const src = assertSafeName(sourceId, "sandbox_id");
  const ids = checkTargets(targets);
  const captureId = randomBytes(8).toString("hex");
  const pending = pendingCaptures(table);
  pending.add(captureId);
  const forks: SandboxEntry[] = [];
  const prepared: Promise<void>[] = [];
  // The helper VM's network does not depend on the capture: it is set up while the source stops.
  const converterLease = targets.length > 1 ? table.options.network.acquire(`fork-${captureId}`) : undefined;
  converterLease?.catch(() => {});
  const dir = forkCaptureDir(table.options.layout, captureId);
  let convertedRam: string | undefined;
  try {
    const phases = new PhaseTimer();
    const captured = await table.lock.run(src, () =>
      captureSource(table, src, ids, targets, captureId, forks, prepared, background),
    );
    phases.mark("capture");
    const fullState = join(dir, FORK_FILES.fullState);
    const changedState = join(dir, FORK_FILES.changedState);
    // Written while the fork's QEMU starts (see changed-pages.ts); the full state when unknown.
    const firstState: RestoreSource = captured.changed
      ? await reducedStateSource(table, fullState, captured.changed, changedState)
      : { kind: "full", stateFile: fullState };
    throwFirstFailure(await Promise.allSettled(prepared));
    phases.mark("prepare");
    const [first, ...others] = forks as [SandboxEntry, ...SandboxEntry[]];
    // Its RAM maps the template's RAM file private, as the source's does: pages the state holds
    // as they are there cost nothing. Anonymous RAM would be all huge pages (QEMU asks for them),
    // the whole guest size resident. Its QEMU starts while the reduced state is written.
    const memory: VmSpec["memory"] = { kind: "file-private", path: captured.snap.memory };
    const restoreFirst = launchFork(table, first, captured, { memory, source: firstState })
      .catch((err) => {
        if (!(err instanceof ReducedStateFailed)) throw err;
        return launchFork(table, first, captured, { memory, source: { kind: "full", stateFile: fullState } });
      })
      .then(() => phases.mark("first"));
    const restoreOthers = converterLease
      ? Promise.all([
          converterLease,
          forkMemoryPath(table.options.layout, captureId, captured.snap.meta.memoryMb * MIB),
        ])
          .then(async ([lease, memoryFile]) => {
            convertedRam = memoryFile;
            await convertCapture(table, captured.snap, captureId, lease, memoryFile);
            return memoryFile;
          })
          .then(async (memoryFile) => {
            phases.mark("convert");
            const template: ForkMemory = {
              memory: { kind: "file-private", path: memoryFile },
              source: { kind: "template", stateFile: join(dir, FORK_FILES.state) },
            };
            throwFirstFailure(
              await Promise.allSettled(others.map((entry) => launchFork(table, entry, captured, template))),
            );
            phases.mark("others");
          })
      : Promise.resolve();
    throwFirstFailure(await Promise.allSettled([restoreFirst, restoreOthers]));
    table.logger.info(
      {
        sandboxId: src,
        forks: ids,
        stoppedMs: captured.stoppedMs,
        background: captured.background,
        ms: phases.result(),
      },
      "sandbox forked",
    );
    return {
      sandboxes: forks.map((e) => table.view(e)),
      sourceStoppedMs: captured.stoppedMs,
      sourceRanDuringSave: captured.background,
    };
  } catch (err) {
    await Promise.allSettled(prepared);
    for (const entry of forks) {
      await table.lock.run(entry.record.id, async () => {
        await teardown(table, entry);
        table.entries.delete(entry.record.id);
      });
    }
    throw table.failure(err, `fork of sandbox ${src} failed`);
  } finally {
    await converterLease?.then(
      (lease) => lease.release(),
      () => {},
    );
    // Every restore that read the full state has loaded it by now.
    await rm(join(dir, FORK_FILES.fullState), { force: true }).catch(() => {});
    await rm(join(dir, FORK_FILES.changedState), { force: true }).catch(() => {});
    // The forks map the converted RAM file and nothing opens it again (a paused fork resumes from
    // its own state): unlinked now, its tmpfs pages go with the last fork's VM, not with the capture.
    if (convertedRam && !convertedRam.startsWith(`${dir}/`))
      await rm(convertedRam, { force: true }).catch(() => {});
    pending.delete(captureId);
    await collectForkCaptures(table).catch((err) =>
      table.logger.warn({ err }, "fork capture cleanup failed"),
    );
  }
}

function throwFirstFailure(results: PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

function checkTargets(targets: ForkTarget[]): string[] {
  if (targets.length < 1 || targets.length > MAX_FORKS_PER_CALL) {
    throw errors.invalidArgument(`a fork makes between 1 and ${MAX_FORKS_PER_CALL} sandboxes`);
  }
  const ids = targets.map((t) => assertSafeName(t.sandboxId, "sandbox_id"));
  if (new Set(ids).size !== ids.length) throw errors.invalidArgument("fork sandbox ids must differ");
  return ids;
}

/** The source's state at the fork, and how long the source was stopped for it. */
interface Captured {
  snap: TemplateSnapshot;
  sourceToken: string | undefined;
  stoppedMs: number;
  /** The source ran while its RAM was written. */
  background: boolean;
  /**
   * The guest pages the source had changed against the template's RAM file at the capture,
   * when its RAM was a private mapping of that file (a clone, or a first fork).
   */
  changed: Uint8Array | undefined;
}

/** Which memory a fork runs on and what it restores from. */
interface ForkMemory {
  memory: VmSpec["memory"];
  source: RestoreSource;
}

/**
 * Under the source's lock: reserves the fork ids, starts making their disks and network
 * slots, then stops the source for as short as
 * possible (disk switch + RAM/device state out) and lets it continue.
 */
async function captureSource(
  table: SandboxTable,
  src: string,
  ids: string[],
  targets: ForkTarget[],
  captureId: string,
  forks: SandboxEntry[],
  prepared: Promise<void>[],
  backgroundSave: boolean,
): Promise<Captured> {
  const source = table.running(src, "fork");
  if (!source.vm) throw errors.failedPrecondition(`sandbox ${src} has no VM`);
  const snap = await table.options.templates.openGeneration(source.record.generationDir);
  if (!snap) throw errors.failedPrecondition(`the template sandbox ${src} was started from is gone`);
  for (const id of ids) {
    if (table.entries.has(id) || (await exists(table.sandboxDir(id)))) {
      throw errors.alreadyExists(`sandbox ${id} already exists`);
    }
  }
  const record = source.record;
  // A fork's disk stands on the capture and on whatever the source's disk stands on.
  const inherited = [...(record.forkCaptures ?? []), captureId];
  targets.forEach((target, i) => {
    const entry: SandboxEntry = { record: forkRecord(record, target, inherited) };
    table.entries.set(ids[i] as string, entry);
    forks.push(entry);
  });
  const dir = forkCaptureDir(table.options.layout, captureId);
  await mkdir(dir, { recursive: true });
  // Each fork's overlay names the capture's disk without opening it: made while the source stops.
  for (const entry of forks) prepared.push(prepareFork(table, entry, captureId));
  const vm = source.vm;
  let changed: Uint8Array | undefined;
  let stoppedMs: number;
  let background: boolean;
  try {
    // The disk is flushed and matches the RAM while the guest is stopped: the copy of the
    // overlay (small: what the sandbox wrote over its base; a reflink where the file system
    // has them) becomes the forks' shared read-only base. The page map is read during the save.
    ({ stoppedMs, background } = await table.options.vmm.checkpoint(
      vm,
      join(dir, FORK_FILES.fullState),
      async () => {
        await run("cp", [
          "--sparse=always",
          "--reflink=auto",
          table.diskPath(src),
          join(dir, FORK_FILES.disk),
        ]);
      },
      async () => {
        changed = await changedAgainstTemplate(table, vm.pid, snap);
      },
      { background: backgroundSave },
    ));
  } catch (err) {
    if (!vm.alive) source.record.state = "error";
    throw err;
  }
  return { snap, sourceToken: record.accessToken, stoppedMs, background, changed };
}

/** The record of a fork of `source`: the source's settings under the target's identity. */
function forkRecord(source: SandboxRecord, target: ForkTarget, captures: string[]): SandboxRecord {
  const now = new Date().toISOString();
  return {
    ...source,
    id: target.sandboxId,
    metadata: { ...(target.metadata ?? source.metadata) },
    envs: { ...source.envs },
    accessToken: target.envdAccessToken || undefined,
    timeoutSec: target.timeoutSec ?? source.timeoutSec,
    forkCaptures: captures,
    state: "starting",
    autoPaused: false,
    createdAt: now,
    lastActiveAt: now,
    runtime: undefined,
  };
}

/**
 * Turns the source's full state into a template-shaped capture (RAM file `memoryFile`, see
 * {@link forkMemoryPath}, + device state) in a VM that loads it and never runs the guest, so
 * forks share the RAM pages through the page cache.
 */
async function convertCapture(
  table: SandboxTable,
  snap: TemplateSnapshot,
  captureId: string,
  lease: NetworkLease,
  memoryFile: string,
): Promise<void> {
  const dir = forkCaptureDir(table.options.layout, captureId);
  const convertDisk = join(dir, FORK_FILES.convertDisk);
  await createOverlayUnsafe(join(dir, FORK_FILES.disk), convertDisk, snap.meta.diskBytes);
  try {
    await table.options.vmm.convertFullToTemplate(
      {
        id: `fork-${captureId}`,
        runDir: dir,
        kernel: snap.kernel,
        initrd: snap.initrd,
        kernelArgs: snap.meta.kernelArgs,
        rootDisk: { path: convertDisk, format: "qcow2" },
        vcpus: snap.meta.vcpus,
        memoryMb: snap.meta.memoryMb,
        memory: { kind: "anonymous" },
        network: lease.attachment,
      },
      join(dir, FORK_FILES.fullState),
      memoryFile,
      join(dir, FORK_FILES.state),
    );
  } finally {
    await rm(convertDisk, { force: true });
  }
}

/** A fork's directory, disk overlay on the capture, record and network slot. */
function prepareFork(table: SandboxTable, entry: SandboxEntry, captureId: string): Promise<void> {
  const id = entry.record.id;
  const { network, layout } = table.options;
  const capturedDisk = join(forkCaptureDir(layout, captureId), FORK_FILES.disk);
  return table.lock.run(id, async () => {
    await mkdir(table.sandboxDir(id), { recursive: true });
    const [disk, lease] = await Promise.allSettled([
      createOverlayUnsafe(capturedDisk, table.diskPath(id), entry.record.diskSizeMb * MIB).then(() =>
        saveRecord(layout, entry.record),
      ),
      network.acquire(id),
    ]);
    if (lease.status === "fulfilled") entry.lease = lease.value;
    if (disk.status === "rejected") throw disk.reason;
    if (lease.status === "rejected") throw lease.reason;
    // A fork inherits its source's egress policy (the record's); on before the fork's guest runs.
    await applySandboxEgress(entry);
  });
}

/** Starts a prepared fork from the capture and hands its envd the fork's identity. */
function launchFork(
  table: SandboxTable,
  entry: SandboxEntry,
  captured: Captured,
  from: ForkMemory,
): Promise<void> {
  const id = entry.record.id;
  const { vmm, layout, hooks } = table.options;
  return table.lock.run(id, async () => {
    if (!entry.lease) throw errors.internal("the fork has no network lease");
    entry.vm = await vmm.restore(vmSpecOf(table, entry, captured.snap, from.memory), from.source);
    // The fork's envd still holds the source's token: `/init` presents it to hand over the fork's.
    await connectEnvd(table, entry, entry.vm, captured.sourceToken);
    entry.record.state = "running";
    entry.record.lastActiveAt = new Date().toISOString();
    entry.record.runtime = await runtimeOf(entry.vm, entry.lease);
    await saveRecord(layout, entry.record);
    hooks?.onVmStarted?.(id, entry.vm.pid, table.diskPath(id));
  });
}
