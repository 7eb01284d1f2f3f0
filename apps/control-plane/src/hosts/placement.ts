import { errors } from "@wrenn/common";
import { countActiveSandboxesByHost, type Database, type Host, listSchedulableHosts } from "@wrenn/db";
import type { PlacementRequest, Scheduler } from "./scheduler.ts";
import { preferWarmHosts, warmMemoryMb, warmPoolOf, warmReady } from "./warm-placement.ts";

/** A host a new VM must run on: the one whose disk holds its template (`label` names it in errors). */
export interface PinnedHost {
  hostId: string;
  label: string;
}

/**
 * Chooses the host for a new VM of `teamId` (a sandbox or a build's sandbox): the team's
 * schedulable hosts — only `pinned.hostId` when the template lives on one host's disk — handed
 * to the scheduler with the vCPUs and memory their active sandboxes (and warm VMs) already reserve,
 * only those with a ready warm VM of `warm`'s template when there are such. With no host at all,
 * `noHostMessage` replaces the scheduler's own `unavailable` message.
 */
export async function placeVm(
  deps: { db: Database; scheduler: Scheduler },
  teamId: string,
  request: PlacementRequest,
  where: {
    pinned?: PinnedHost;
    noHostMessage?: string;
    /** The agent's template id and team: hosts with a warm VM of it are preferred. */
    warm?: { templateId: string; templateTeamId: string };
  } = {},
): Promise<Host> {
  const { pinned, noHostMessage, warm } = where;
  let hosts = await listSchedulableHosts(deps.db, teamId);
  if (pinned) {
    hosts = hosts.filter((h) => h.id === pinned.hostId);
    if (hosts.length === 0) throw errors.unavailable(`the host holding ${pinned.label} is not online`);
  }
  if (hosts.length === 0 && noHostMessage) throw errors.unavailable(noHostMessage);
  const load = await countActiveSandboxesByHost(
    deps.db,
    hosts.map((h) => h.id),
  );
  const pools = new Map(hosts.map((h) => [h.id, warmPoolOf(h)]));
  const candidates = hosts.map((h) => {
    const reserved = load.get(h.id);
    return {
      id: h.id,
      cpuCount: h.cpuCount,
      memoryMb: h.memoryMb,
      sandboxes: reserved?.count ?? 0,
      vcpusReserved: reserved?.vcpus ?? 0,
      // Warm VMs hold their guests' memory like sandboxes do.
      memoryMbReserved: (reserved?.memoryMb ?? 0) + warmMemoryMb(pools.get(h.id) ?? []),
    };
  });
  const readyOf = (id: string) =>
    warm ? warmReady(pools.get(id) ?? [], warm.templateId, warm.templateTeamId) : 0;
  const chosen = deps.scheduler.pick(
    preferWarmHosts(candidates, readyOf, () => request.memoryMb),
    request,
  );
  const host = hosts.find((h) => h.id === chosen);
  if (!host) throw errors.internal("scheduler chose an unknown host");
  return host;
}
