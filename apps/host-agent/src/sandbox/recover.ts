import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { SANDBOX_FILES } from "../storage/layout.ts";
import { adoptSandbox, vmIdOf } from "./adopt.ts";
import { applySandboxEgress } from "./egress.ts";
import { killOrphanVmm, removeIncompleteCaptures } from "./orphans.ts";
import { loadRecord, sandboxDirNames, saveRecord } from "./records.ts";
import { exists, type SandboxTable } from "./table.ts";
import { WARM_DIR_PREFIX } from "./warm-pool.ts";

/** What {@link recoverSandboxes} found: sandboxes taken over, kept paused, lost, and VMMs it ended. */
export interface RecoveryReport {
  lost: string[];
  adopted: string[];
  paused: string[];
  killedPids: number[];
}

/**
 * Start-up recovery: takes over sandboxes whose VM survived the previous run
 * (same process, QMP and envd answering, network slot kept), keeps paused
 * sandboxes (their state is on disk), ends any other VMM process a crashed
 * run left behind and removes those sandboxes, reporting them as lost. Also
 * removes incomplete template captures.
 */
export async function recoverSandboxes(table: SandboxTable): Promise<RecoveryReport> {
  const { layout, logger, hooks } = table.options;
  await mkdir(layout.sandboxesDir, { recursive: true });
  const report: RecoveryReport = { lost: [], adopted: [], paused: [], killedPids: [] };
  for (const name of await sandboxDirNames(layout)) {
    const dir = join(layout.sandboxesDir, name);
    if (name.startsWith(WARM_DIR_PREFIX)) {
      // A warm VM of the previous run: no sandbox, nothing to report; the pool refills.
      const killed = await killOrphanVmm(dir, name);
      if (killed) report.killedPids.push(killed);
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    const survivor = await loadRecord(dir);
    if (survivor && survivor.id === name) {
      const live = await adoptSandbox(survivor, dir, table.options).catch((err: unknown) => {
        logger.warn({ err, sandboxId: name }, "taking over a surviving VM failed");
        return undefined;
      });
      if (live) {
        // The agent was down: whatever activity happened then is unknown, so the TTL starts anew.
        survivor.lastActiveAt = new Date().toISOString();
        survivor.autoPaused = false;
        table.entries.set(name, { record: survivor, ...live });
        // The namespace kept its rules, but a policy's DNS filter ran in the previous process.
        await applySandboxEgress({ record: survivor, ...live }).catch((err: unknown) =>
          logger.warn({ err, sandboxId: name }, "re-applying the egress policy failed"),
        );
        await saveRecord(layout, survivor);
        hooks?.onVmStarted?.(name, live.vm.pid, join(dir, SANDBOX_FILES.disk));
        report.adopted.push(name);
        continue;
      }
    }
    const killed = await killOrphanVmm(dir, survivor ? vmIdOf(survivor) : name);
    if (killed) report.killedPids.push(killed);
    const record = await loadRecord(dir);
    const hasState = await exists(join(dir, SANDBOX_FILES.pauseState));
    if (record && record.id === name && record.state === "paused" && hasState) {
      table.entries.set(name, { record });
      report.paused.push(name);
      continue;
    }
    await rm(dir, { recursive: true, force: true });
    report.lost.push(name);
  }
  report.killedPids.push(...(await removeIncompleteCaptures(layout.root)));
  if (report.adopted.length > 0) {
    logger.info({ adopted: report.adopted }, "took over sandboxes that survived the agent");
  }
  if (report.lost.length > 0 || report.killedPids.length > 0) {
    logger.warn(
      { lost: report.lost, killedPids: report.killedPids },
      "sandboxes lost by a previous agent run were cleaned up",
    );
  }
  return report;
}
