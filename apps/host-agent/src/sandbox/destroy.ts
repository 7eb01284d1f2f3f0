import { rm } from "node:fs/promises";
import { collectForkCaptures } from "./fork-captures.ts";
import type { SandboxEntry, SandboxTable } from "./table.ts";

/** Stops the VM (if any) and deletes everything the sandbox holds on this host. */
export function destroySandbox(table: SandboxTable, sandboxId: string): Promise<void> {
  return table.locked(sandboxId, async (id) => {
    const entry = table.find(id);
    entry.record.state = "stopping";
    await teardown(table, entry);
    table.entries.delete(id);
    table.options.hooks?.onDestroyed?.(id);
    const { templates, logger } = table.options;
    await collectForkCaptures(table).catch((err) => logger.warn({ err }, "fork capture cleanup failed"));
    await templates
      .collectGarbage(entry.record.templateTeamId, entry.record.templateId, table.generationsInUse())
      .catch((err) => logger.warn({ err }, "template cleanup failed"));
    logger.info({ sandboxId: id }, "sandbox destroyed");
  });
}

/** Kills the VM, releases the network and deletes the sandbox directory. Never throws. */
export async function teardown(table: SandboxTable, entry: SandboxEntry): Promise<void> {
  const id = entry.record.id;
  const { hooks, logger } = table.options;
  // A pause's state reduction writes into the directory about to go.
  entry.pauseReduce?.stop.abort();
  await entry.pauseReduce?.ended;
  entry.pauseReduce = undefined;
  if (entry.vm) hooks?.onVmStopped?.(id);
  await entry.vm?.kill().catch((err) => logger.error({ err, sandboxId: id }, "VM kill failed"));
  await entry.lease?.release().catch((err) => logger.error({ err, sandboxId: id }, "network release failed"));
  entry.vm = undefined;
  entry.lease = undefined;
  entry.envd = undefined;
  await rm(table.sandboxDir(id), { recursive: true, force: true });
}

/** Ends every VM without deleting state (agent shutdown in tests). Paused sandboxes stay paused. */
export async function shutdownSandboxes(table: SandboxTable): Promise<void> {
  for (const entry of table.entries.values()) {
    await entry.vm?.kill();
    await entry.lease?.release().catch(() => {});
  }
  await table.settled();
  table.entries.clear();
}
