import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { hostagent } from "@wrenn/proto";
import type { SandboxManager } from "../../sandbox/manager.ts";
import type { SandboxState, SandboxView } from "../../sandbox/types.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";

const stateToProto: Record<SandboxState, hostagent.SandboxState> = {
  starting: hostagent.SandboxState.STARTING,
  running: hostagent.SandboxState.RUNNING,
  pausing: hostagent.SandboxState.PAUSING,
  paused: hostagent.SandboxState.PAUSED,
  stopping: hostagent.SandboxState.STOPPING,
  stopped: hostagent.SandboxState.UNSPECIFIED,
  error: hostagent.SandboxState.UNSPECIFIED,
};

/** The SandboxInfo of a sandbox view. */
export function toSandboxInfo(sandbox: SandboxView) {
  return {
    sandboxId: sandbox.id,
    teamId: sandbox.teamId,
    templateId: sandbox.templateId,
    state: stateToProto[sandbox.state],
    vcpus: sandbox.vcpus,
    memoryMb: sandbox.memoryMb,
    diskSizeMb: sandbox.diskSizeMb,
    timeoutSec: sandbox.timeoutSec,
    metadata: sandbox.metadata,
    createdAt: timestampFromMs(Date.parse(sandbox.createdAt)),
    lastActiveAt: timestampFromMs(Date.parse(sandbox.lastActiveAt)),
    envdVersion: sandbox.envdVersion,
  };
}

/** Create, destroy, pause, resume, ping and list sandboxes. */
export function lifecycleHandlers(
  manager: SandboxManager,
  { unary }: ErrorMapping,
): HandlersOf<
  | "createSandbox"
  | "destroySandbox"
  | "pauseSandbox"
  | "resumeSandbox"
  | "pingSandbox"
  | "listSandboxes"
  | "pauseAll"
  | "updateSandboxNetwork"
> {
  return {
    // The request is the manager's SandboxSpec as it is: the proto names its fields the same.
    createSandbox: unary("CreateSandbox", async (req: hostagent.CreateSandboxRequest) => ({
      sandbox: toSandboxInfo(await manager.create(req)),
    })),
    destroySandbox: unary("DestroySandbox", async (req: hostagent.DestroySandboxRequest) => {
      await manager.destroy(req.sandboxId);
      return {};
    }),
    pauseSandbox: unary("PauseSandbox", async (req: hostagent.PauseSandboxRequest) => ({
      snapshotSizeBytes: BigInt(await manager.pause(req.sandboxId)),
    })),
    resumeSandbox: unary("ResumeSandbox", async (req: hostagent.ResumeSandboxRequest) => ({
      sandbox: toSandboxInfo(await manager.resume(req.sandboxId, req.timeoutSec)),
    })),
    // Restarts the inactivity countdown; a given timeout_sec replaces the running VM's TTL at once.
    pingSandbox: unary("PingSandbox", async (req: hostagent.PingSandboxRequest) => ({
      sandbox: toSandboxInfo(await manager.ping(req.sandboxId, req.timeoutSec)),
    })),
    listSandboxes: unary("ListSandboxes", () => {
      const { sandboxes, autoPausedIds } = manager.list();
      return { sandboxes: sandboxes.map(toSandboxInfo), autoPausedSandboxIds: autoPausedIds };
    }),
    pauseAll: unary("PauseAll", async () => {
      const { paused, failures } = await manager.pauseAll();
      return { pausedSandboxIds: paused, failures };
    }),
    updateSandboxNetwork: unary(
      "UpdateSandboxNetwork",
      async (req: hostagent.UpdateSandboxNetworkRequest) => {
        // An absent policy is the open one (the message's defaults would mean "no internet").
        await manager.updateEgress(
          req.sandboxId,
          req.egress ?? { allowInternet: true, allowOut: [], denyOut: [] },
        );
        return {};
      },
    ),
  };
}
