import { access, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { errors, isWrennError } from "@wrenn/common";
import { assertCompatible } from "../snapshot/metadata.ts";
import type { TemplateSnapshot } from "../snapshot/templates.ts";
import { allocatedBytes } from "../storage/disk.ts";
import { SANDBOX_FILES } from "../storage/layout.ts";
import type { RestoreSource, VmInstance } from "../vmm/types.ts";
import { runtimeOf } from "./adopt.ts";
import {
  changedAgainstTemplate,
  loadChangedPages,
  ReducedStateFailed,
  reducedStateSource,
  saveChangedPages,
} from "./changed-pages.ts";
import { applySandboxEgress } from "./egress.ts";
import { PhaseTimer } from "./phase-timer.ts";
import { saveRecord } from "./records.ts";
import { connectEnvd, vmSpecOf } from "./restore.ts";
import type { PauseReduction, SandboxEntry, SandboxTable } from "./table.ts";
import { isIdle } from "./ttl.ts";
import type { SandboxView } from "./types.ts";

/**
 * Pauses a running sandbox: drains proxy connections, writes RAM + device
 * state next to its disk and ends the VM process. Returns the bytes the pause
 * state takes on disk.
 */
export function pauseSandbox(table: SandboxTable, sandboxId: string, auto: boolean): Promise<number> {
  return table.locked(sandboxId, (id) => pauseLocked(table, id, auto));
}

/**
 * The TTL reaper's pause: decides under the sandbox's lock whether it is still
 * idle at `now()`, because a ping or a new timeout may have arrived since the
 * sweep listed it. Returns false (and leaves it alone) when it is not.
 */
export function pauseIfIdle(table: SandboxTable, sandboxId: string, now: () => number): Promise<boolean> {
  return table.locked(sandboxId, async (id) => {
    const entry = table.entries.get(id);
    if (!entry || !isIdle(entry.record, now())) return false;
    await pauseLocked(table, id, true);
    return true;
  });
}

/** Pauses every running sandbox (marked auto-paused), reporting per-sandbox failures. */
export async function pauseAllSandboxes(
  table: SandboxTable,
): Promise<{ paused: string[]; failures: { sandboxId: string; message: string }[] }> {
  const paused: string[] = [];
  const failures: { sandboxId: string; message: string }[] = [];
  const running = [...table.entries.values()]
    .filter((e) => e.record.state === "running")
    .map((e) => e.record.id);
  for (const id of running) {
    try {
      await pauseSandbox(table, id, true);
      paused.push(id);
    } catch (err) {
      failures.push({ sandboxId: id, message: isWrennError(err) ? err.message : "pause failed" });
    }
  }
  return { paused, failures };
}

async function pauseLocked(table: SandboxTable, id: string, auto: boolean): Promise<number> {
  const entry = table.running(id, "pause");
  const vm = entry.vm;
  if (!vm) throw errors.failedPrecondition(`sandbox ${id} has no VM`);
  const { vmm, hooks, logger, layout, templates } = table.options;
  const stateFile = join(table.sandboxDir(id), SANDBOX_FILES.pauseState);
  const pagesFile = join(table.sandboxDir(id), SANDBOX_FILES.pausePages);
  entry.record.state = "pausing";
  const phases = new PhaseTimer();
  let changed: Uint8Array | undefined;
  try {
    await hooks?.beforePause?.(id);
    phases.mark("drain");
    await rm(pagesFile, { force: true });
    // Which pages the guest changed against its template's RAM file, read beside the save: a
    // resume then copies only those (changed-pages.ts).
    await vmm.saveFull(vm, stateFile, async () => {
      const snap = await templates.openGeneration(entry.record.generationDir);
      changed = snap ? await changedAgainstTemplate(table, vm.pid, snap) : undefined;
    });
    phases.mark("save");
    if (changed) {
      await saveChangedPages(pagesFile, changed).catch(async (err) => {
        logger.warn({ err, sandboxId: id }, "could not save the paused guest's page map");
        await rm(pagesFile, { force: true });
      });
    }
  } catch (err) {
    entry.record.state = vm.alive ? "running" : "error";
    await rm(stateFile, { force: true });
    await rm(pagesFile, { force: true });
    throw table.failure(err, `sandbox ${id} could not be paused`);
  }
  hooks?.onVmStopped?.(id);
  entry.vm = undefined;
  entry.envd = undefined;
  // The slot's teardown (~70 ms of ip/iptables) need not hold up the answer: the VM is gone.
  table.releaseLater(id, entry.lease);
  entry.lease = undefined;
  entry.record.state = "paused";
  entry.record.autoPaused = auto;
  entry.record.runtime = undefined;
  await saveRecord(layout, entry.record);
  const bytes = (await allocatedBytes(stateFile)) + (await allocatedBytes(table.diskPath(id)));
  phases.mark("record");
  logger.debug({ sandboxId: id, ms: phases.result() }, "sandbox paused");
  // The answer need not wait: the resume uses the reduced state once it is complete.
  if (changed) {
    const reduction: PauseReduction = {
      ended: Promise.resolve(),
      settled: false,
      stop: new AbortController(),
    };
    reduction.ended = reducePauseState(table, id, changed, reduction.stop.signal).finally(() => {
      reduction.settled = true;
    });
    entry.pauseReduce = reduction;
  }
  return bytes;
}

/**
 * Writes the paused sandbox's state reduced to the pages it changed, under a temporary name
 * renamed when complete (so a crash never leaves a partial `pause.changed.state`). A failure
 * only costs the resume its shortcut.
 */
async function reducePauseState(
  table: SandboxTable,
  id: string,
  changed: Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  const dir = table.sandboxDir(id);
  const target = join(dir, SANDBOX_FILES.pauseChangedState);
  const partial = join(dir, SANDBOX_FILES.pauseChangedPartial);
  try {
    const reduced = await table.options.vmm.reduceFullState(
      join(dir, SANDBOX_FILES.pauseState),
      changed,
      partial,
      signal,
    );
    await rename(partial, target);
    table.logger.debug({ sandboxId: id, ...reduced }, "pause state reduced to the changed pages");
  } catch (err) {
    await rm(partial, { force: true }).catch(() => {});
    if (signal.aborted) return;
    table.logger.warn(
      { err, sandboxId: id },
      "could not reduce the pause state; the resume restores all of it",
    );
  }
}

/** Restores a paused sandbox; its inactivity timeout is set anew from `timeoutSec`. */
export function resumeSandbox(
  table: SandboxTable,
  sandboxId: string,
  timeoutSec: number,
): Promise<SandboxView> {
  const { vmm, network, templates, hooks, logger, layout } = table.options;
  return table.locked(sandboxId, async (id) => {
    const entry = table.find(id);
    if (entry.record.state !== "paused") {
      throw errors.failedPrecondition(`sandbox ${id} is ${entry.record.state}, not paused`);
    }
    if (entry.record.networkKind !== network.kind) {
      throw errors.failedPrecondition(
        `sandbox ${id} was paused with ${entry.record.networkKind} networking; this agent uses ${network.kind}`,
      );
    }
    const snap = await templates.openGeneration(entry.record.generationDir);
    if (!snap) throw errors.failedPrecondition(`the template sandbox ${id} was started from is gone`);
    assertCompatible(snap.meta, await vmm.fingerprint(), network.kind, `paused sandbox ${id}`);
    entry.record.state = "starting";
    try {
      const phases = new PhaseTimer();
      entry.lease = await network.acquire(id);
      // A fresh network: the policy kept in the record goes on before the guest runs again.
      await applySandboxEgress(entry);
      phases.mark("network");
      entry.vm = await restorePaused(table, entry, snap);
      phases.mark("restore");
      await connectEnvd(table, entry, entry.vm);
      phases.mark("envd");
      logger.debug({ sandboxId: id, ms: phases.result() }, "sandbox resumed");
    } catch (err) {
      await entry.vm?.kill();
      await entry.lease?.release().catch(() => {});
      entry.vm = undefined;
      entry.lease = undefined;
      entry.envd = undefined;
      entry.record.state = "paused";
      throw table.failure(err, `sandbox ${id} could not be resumed`);
    }
    for (const name of [
      SANDBOX_FILES.pausePages,
      SANDBOX_FILES.pauseChangedState,
      SANDBOX_FILES.pauseChangedPartial,
      SANDBOX_FILES.pauseState,
    ]) {
      await rm(join(table.sandboxDir(id), name), { force: true });
    }
    entry.record.state = "running";
    entry.record.autoPaused = false;
    entry.record.timeoutSec = timeoutSec;
    entry.record.lastActiveAt = new Date().toISOString();
    entry.record.runtime = entry.lease ? await runtimeOf(entry.vm, entry.lease) : undefined;
    await saveRecord(layout, entry.record);
    hooks?.onVmStarted?.(id, entry.vm.pid, table.diskPath(id));
    return table.view(entry);
  });
}

/**
 * Starts the VM of a paused sandbox from its pause state. With the pages it changed known, over
 * a private mapping of the template's RAM file as a clone, from the reduced state (waiting for
 * the reduction the pause started, or reducing now while QEMU starts): it copies only those
 * pages. Otherwise, or when that fails, the full state into anonymous RAM.
 */
async function restorePaused(
  table: SandboxTable,
  entry: SandboxEntry,
  snap: TemplateSnapshot,
): Promise<VmInstance> {
  const { vmm, logger } = table.options;
  const dir = table.sandboxDir(entry.record.id);
  const stateFile = join(dir, SANDBOX_FILES.pauseState);
  const changedFile = join(dir, SANDBOX_FILES.pauseChangedState);
  const full = () =>
    vmm.restore(vmSpecOf(table, entry, snap, { kind: "anonymous" }), { kind: "full", stateFile });
  // A resume right after the pause does not wait for the reduction: it restores everything.
  const reduction = entry.pauseReduce;
  entry.pauseReduce = undefined;
  if (reduction && !reduction.settled) {
    reduction.stop.abort();
    await reduction.ended;
    return full();
  }
  let source: RestoreSource | undefined;
  if (
    await access(changedFile).then(
      () => true,
      () => false,
    )
  ) {
    source = { kind: "full", stateFile: changedFile };
  } else {
    // Reduced by no one yet (an agent restart came between): reduce now, beside QEMU's start.
    const changed = await loadChangedPages(join(dir, SANDBOX_FILES.pausePages), snap.meta.memoryMb);
    const partial = join(dir, SANDBOX_FILES.pauseChangedPartial);
    await rm(partial, { force: true });
    if (changed) source = await reducedStateSource(table, stateFile, changed, partial);
  }
  if (!source) return full();
  const memory = { kind: "file-private", path: snap.memory } as const;
  try {
    return await vmm.restore(vmSpecOf(table, entry, snap, memory), source);
  } catch (err) {
    if (!(err instanceof ReducedStateFailed)) {
      logger.warn(
        { err, sandboxId: entry.record.id },
        "restoring the changed pages failed; restoring all of them",
      );
    }
    return full();
  }
}
