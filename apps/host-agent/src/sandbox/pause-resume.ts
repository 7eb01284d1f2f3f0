import { rm } from "node:fs/promises";
import { join } from "node:path";
import { errors, isWrennError } from "@wrenn/common";
import { assertCompatible } from "../snapshot/metadata.ts";
import { allocatedBytes } from "../storage/disk.ts";
import { SANDBOX_FILES } from "../storage/layout.ts";
import { runtimeOf } from "./adopt.ts";
import { applySandboxEgress } from "./egress.ts";
import { PhaseTimer } from "./phase-timer.ts";
import { saveRecord } from "./records.ts";
import { connectEnvd, vmSpecOf } from "./restore.ts";
import type { SandboxTable } from "./table.ts";
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
  const { vmm, hooks, logger, layout } = table.options;
  const stateFile = join(table.sandboxDir(id), SANDBOX_FILES.pauseState);
  entry.record.state = "pausing";
  const phases = new PhaseTimer();
  try {
    await hooks?.beforePause?.(id);
    phases.mark("drain");
    await vmm.saveFull(vm, stateFile);
    phases.mark("save");
  } catch (err) {
    entry.record.state = vm.alive ? "running" : "error";
    await rm(stateFile, { force: true });
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
  return bytes;
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
    const stateFile = join(table.sandboxDir(id), SANDBOX_FILES.pauseState);
    entry.record.state = "starting";
    try {
      const phases = new PhaseTimer();
      entry.lease = await network.acquire(id);
      // A fresh network: the policy kept in the record goes on before the guest runs again.
      await applySandboxEgress(entry);
      phases.mark("network");
      entry.vm = await vmm.restore(vmSpecOf(table, entry, snap, { kind: "anonymous" }), {
        kind: "full",
        stateFile,
      });
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
    await rm(stateFile, { force: true });
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
