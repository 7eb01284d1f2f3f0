import type { Logger } from "@wrenn/common";
import { EnvdClient } from "../envd-client/client.ts";
import type { NetworkLease, NetworkProvider } from "../vmm/network-attachment.ts";
import { processStartTime } from "../vmm/qemu.ts";
import type { VmInstance, Vmm } from "../vmm/types.ts";
import type { SandboxRecord, SandboxRuntime } from "./types.ts";

/** How long a surviving guest's envd gets to answer before the sandbox counts as lost. */
const ADOPT_ENVD_TIMEOUT_MS = 15_000;

/** A running sandbox taken over from a previous agent run. */
export interface AdoptedSandbox {
  vm: VmInstance;
  lease: NetworkLease;
  envd: EnvdClient;
}

/**
 * What a running VM's record must carry so that a restarted agent can take it over;
 * undefined when the lease cannot be persisted (then the VM dies with the agent's state).
 */
export async function runtimeOf(vm: VmInstance, lease: NetworkLease): Promise<SandboxRuntime | undefined> {
  const startTime = await processStartTime(vm.pid);
  if (!startTime || !lease.persisted) return undefined;
  // A VM taken from the warm pool keeps the name it was started under (`-name wrenn-<pool id>`).
  const runtime: NamedRuntime = { pid: vm.pid, startTime, network: lease.persisted, vmId: vm.id };
  return runtime;
}

/** A runtime that also names the VM process (`-name wrenn-<vmId>`) when that is not the sandbox id. */
type NamedRuntime = SandboxRuntime & { vmId?: string };

/** The id the VM of `record` runs under (its QEMU `-name wrenn-<id>`): a warm VM's pool id, or the sandbox id. */
export function vmIdOf(record: SandboxRecord): string {
  const vmId = (record.runtime as NamedRuntime | undefined)?.vmId;
  return typeof vmId === "string" && vmId !== "" ? vmId : record.id;
}

/**
 * Takes over a sandbox whose record says it was running when the previous agent run ended:
 * the VMM must be the same process (pid + start time + `-name wrenn-<vm id>`), answer QMP, keep
 * its network slot, and its envd must answer. Anything less and whatever was taken over is
 * let go again and undefined returned: the caller then removes the sandbox as lost.
 */
export async function adoptSandbox(
  record: SandboxRecord,
  runDir: string,
  deps: { vmm: Vmm; network: NetworkProvider; logger: Logger },
): Promise<AdoptedSandbox | undefined> {
  const rt = record.runtime;
  if (record.state !== "running" || !rt || !deps.vmm.adopt || !deps.network.adopt) return undefined;
  if (record.networkKind !== deps.network.kind) return undefined;
  const vm = await deps.vmm.adopt(vmIdOf(record), runDir, rt.pid, rt.startTime);
  if (!vm) return undefined;
  const lease = await deps.network.adopt(record.id, rt.network);
  if (!lease) {
    await vm.kill();
    return undefined;
  }
  const { host, port } = lease.attachment.envdEndpoint;
  const envd = new EnvdClient(host, port, record.accessToken);
  try {
    await envd.waitHealthy(ADOPT_ENVD_TIMEOUT_MS, () => vm.alive);
  } catch (err) {
    deps.logger.warn({ err, sandboxId: record.id }, "surviving VM's envd does not answer; not adopted");
    await vm.kill();
    await lease.release().catch(() => {});
    return undefined;
  }
  return { vm, lease, envd };
}
