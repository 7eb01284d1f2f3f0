import type { Host } from "@wrenn/db";
import type { HostCandidate } from "./scheduler.ts";

/** One template's warm VMs on a host, as its last heartbeat reported them (`hosts.metadata.warm_pool`). */
export interface HostWarmPoolEntry {
  template_id: string;
  template_team_id: string;
  ready: number;
  starting: number;
  memory_mb: number;
}

/** The warm pool a host reported last; empty for hosts (and agents) that report none. */
export function warmPoolOf(host: Pick<Host, "metadata">): HostWarmPoolEntry[] {
  const raw = (host.metadata as { warm_pool?: unknown } | null)?.warm_pool;
  if (!Array.isArray(raw)) return [];
  return raw.filter(
    (e): e is HostWarmPoolEntry =>
      typeof e === "object" &&
      e !== null &&
      typeof e.template_id === "string" &&
      typeof e.ready === "number" &&
      typeof e.memory_mb === "number",
  );
}

/** Memory the host's warm VMs hold, MiB: reserved like a running sandbox's. */
export function warmMemoryMb(pool: HostWarmPoolEntry[]): number {
  return pool.reduce((sum, e) => sum + Math.max(0, e.memory_mb), 0);
}

/** Ready warm VMs of agent template `templateId` (of `templateTeamId`) in `pool`. */
export function warmReady(pool: HostWarmPoolEntry[], templateId: string, templateTeamId: string): number {
  return pool
    .filter(
      (e) => e.template_id === templateId && (!e.template_team_id || e.template_team_id === templateTeamId),
    )
    .reduce((sum, e) => sum + Math.max(0, e.ready), 0);
}

/**
 * The candidates a create should be placed among: those with a ready warm VM of the template
 * whose memory is not overcommitted (the warm VM's memory, already reserved, becomes the
 * sandbox's), or all candidates when none has one. The scheduler then picks among them.
 */
export function preferWarmHosts(
  candidates: HostCandidate[],
  readyOf: (hostId: string) => number,
  warmVmMemoryMb: (hostId: string) => number,
): HostCandidate[] {
  const warm = candidates.filter(
    (c) =>
      readyOf(c.id) > 0 && (c.memoryMb === 0 || c.memoryMb - c.memoryMbReserved + warmVmMemoryMb(c.id) >= 0),
  );
  return warm.length > 0 ? warm : candidates;
}
