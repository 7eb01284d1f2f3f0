import { errors } from "@wrenn/common";
import { EnvdClient } from "../envd-client/client.ts";
import type { TemplateSnapshot } from "../snapshot/templates.ts";
import { MIB } from "../storage/disk.ts";
import { PLATFORM_TEAM_ID } from "../storage/layout.ts";
import type { VmInstance, VmSpec } from "../vmm/types.ts";
import type { SandboxEntry, SandboxTable } from "./table.ts";

// What creating a sandbox and resuming one share: starting its VM from a snapshot and handing
// its envd the sandbox's identity.

/**
 * The snapshot of template `templateId` of `teamId` (captured from the guest image or the
 * template's own image on first use), after which stale generations of it are collected.
 */
export async function templateSnapshot(
  table: SandboxTable,
  teamId: string,
  templateId: string,
): Promise<TemplateSnapshot> {
  const { templates, network, guestImage, logger } = table.options;
  const source = table.baseTemplateIds.has(templateId)
    ? await guestImage()
    : await templates.imageSource(teamId, templateId);
  const snap = await templates.ensureSnapshot(
    teamId,
    templateId,
    source,
    {
      vcpus: table.limits.templateVcpus,
      memoryMb: table.limits.templateMemoryMb,
      diskBytes: table.limits.defaultDiskSizeMb * MIB,
      kernelArgs: table.kernelArgs,
      networkKind: network.kind,
    },
    (id) => network.acquire(id),
  );
  void templates
    .collectGarbage(teamId, templateId, table.generationsInUse())
    .catch((err) => logger.warn({ err }, "template cleanup failed"));
  return snap;
}

/** Captures (or finds) the snapshot of every base template, so no create waits for a cold boot. */
export async function prepareBaseTemplates(table: SandboxTable): Promise<void> {
  for (const id of table.baseTemplateIds) await templateSnapshot(table, PLATFORM_TEAM_ID, id);
}

/** The VM of `entry` restored from `snap`, on the entry's network lease. */
export function vmSpecOf(
  table: SandboxTable,
  entry: SandboxEntry,
  snap: TemplateSnapshot,
  memory: VmSpec["memory"],
): VmSpec {
  if (!entry.lease) throw errors.internal("the sandbox has no network lease");
  const id = entry.record.id;
  return {
    id,
    runDir: table.sandboxDir(id),
    kernel: snap.kernel,
    initrd: snap.initrd,
    kernelArgs: snap.meta.kernelArgs,
    rootDisk: { path: table.diskPath(id), format: "qcow2" },
    vcpus: snap.meta.vcpus,
    memoryMb: snap.meta.memoryMb,
    memory,
    network: entry.lease.attachment,
  };
}

/**
 * Hands envd the sandbox identity, env vars, token and the host clock as soon
 * as it answers (its answer is the readiness signal; the version is the one
 * recorded when the template was captured). `capturedToken` is the token a
 * template's envd already holds: `/init` presents it to replace it.
 */
export async function connectEnvd(
  table: SandboxTable,
  entry: SandboxEntry,
  vm: VmInstance,
  capturedToken?: string,
): Promise<void> {
  if (!entry.lease) throw errors.internal("the sandbox has no network lease");
  const { host, port } = entry.lease.attachment.envdEndpoint;
  const envd = new EnvdClient(host, port, capturedToken ?? entry.record.accessToken);
  await envd.initWhenReady(
    {
      sandboxId: entry.record.id,
      templateId: entry.record.templateId,
      envVars: entry.record.envs,
      accessToken: entry.record.accessToken,
      defaultUser: entry.record.defaultUser,
      defaultWorkdir: entry.record.defaultWorkdir,
    },
    table.limits.envdTimeoutMs,
    () => vm.alive,
  );
  entry.envd = envd;
}
