import type { ServiceImpl } from "@connectrpc/connect";
import type { HostAgentService } from "@wrenn/proto";
import { errorMapping, type ServiceDeps } from "./handlers/context.ts";
import { fileHandlers } from "./handlers/files.ts";
import { forkHandlers } from "./handlers/fork.ts";
import { lifecycleHandlers } from "./handlers/lifecycle.ts";
import { metricsHandlers } from "./handlers/metrics.ts";
import { processHandlers } from "./handlers/processes.ts";
import { createPtySessions, ptyHandlers } from "./handlers/pty.ts";
import { templateHandlers } from "./handlers/templates.ts";

export type { ServiceDeps } from "./handlers/context.ts";
export { createPtySessions } from "./handlers/pty.ts";

/**
 * The `hostagent.v1.HostAgentService` implementation: a thin adapter that
 * validates, delegates to the manager / template operations / envd, and maps
 * every error through one table. Each area's handlers live in `handlers/`.
 */
export function createHostAgentService(deps: ServiceDeps): ServiceImpl<typeof HostAgentService> {
  const { manager, templates, logger } = deps;
  const sessions = deps.ptySessions ?? createPtySessions(manager, logger);
  const mapping = errorMapping(logger);
  return {
    ...lifecycleHandlers(manager, mapping),
    ...forkHandlers(manager, mapping),
    ...processHandlers(manager, mapping, (id, tag) => sessions.has(id, tag)),
    ...fileHandlers(manager, mapping),
    ...ptyHandlers(manager, sessions, mapping),
    ...templateHandlers(templates, mapping),
    ...metricsHandlers(manager, deps.metrics, mapping),
  };
}
