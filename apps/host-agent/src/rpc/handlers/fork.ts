import type { hostagent } from "@wrenn/proto";
import type { SandboxManager } from "../../sandbox/manager.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";
import { toSandboxInfo } from "./lifecycle.ts";

/** ForkSandbox: a running sandbox into N new ones (see `sandbox/fork.ts`). */
export function forkHandlers(manager: SandboxManager, { unary }: ErrorMapping): HandlersOf<"forkSandbox"> {
  return {
    forkSandbox: unary("ForkSandbox", async (req: hostagent.ForkSandboxRequest) => {
      const result = await manager.fork(
        req.sandboxId,
        req.forks.map((f) => ({
          sandboxId: f.sandboxId,
          envdAccessToken: f.envdAccessToken,
          // An empty map keeps the source's metadata (proto maps have no "unset").
          metadata: Object.keys(f.metadata).length > 0 ? f.metadata : undefined,
          timeoutSec: f.timeoutSec,
        })),
      );
      return {
        sandboxes: result.sandboxes.map(toSandboxInfo),
        sourceStoppedMs: Math.min(result.sourceStoppedMs, 0xffffffff),
      };
    }),
  };
}
