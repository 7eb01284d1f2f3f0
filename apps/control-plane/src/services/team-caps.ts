import { errors } from "@wrenn/common";
import { type Database, listLiveSandboxesOfTeam } from "@wrenn/db";

/**
 * Per-team (and per-user) caps, so one team cannot exhaust the platform or the database. Reaching
 * one is `429 resource_exhausted` naming the cap: free something (delete a key, destroy or pause a
 * sandbox) and try again. Checked before creating; two concurrent creates may both pass at the
 * edge (the caps bound abuse, they are not billing).
 */
export const teamCaps = {
  /** API keys of one team. */
  apiKeys: 100,
  /** Teams one user belongs to (creating a team). */
  teamsPerUser: 20,
  /** Sandboxes of one team holding resources at once (pending, starting, running, missing). */
  sandboxes: 20,
  /** vCPUs of those sandboxes together. */
  vcpus: 64,
  /** Memory of those sandboxes together, MiB. */
  memoryMb: 128 * 1024,
} as const;

/** Refuses when `count` existing items already fill a cap of `limit`. */
export function requireBelowCap(count: number, limit: number, what: string): void {
  if (count >= limit) throw errors.resourceExhausted(`limit reached: at most ${limit} ${what}`);
}

// Paused sandboxes hold no RAM or vCPU; they still count nowhere but storage.
const HOLDING: string[] = ["pending", "starting", "running", "missing"];

/**
 * Refuses `count` new sandboxes (default 1; `request` is their total size) when the team's
 * running ones already use its caps.
 */
export async function requireSandboxCapacity(
  db: Database,
  teamId: string,
  request: { vcpus: number; memoryMb: number; count?: number },
): Promise<void> {
  const live = (await listLiveSandboxesOfTeam(db, teamId)).filter((s) => HOLDING.includes(s.state));
  requireBelowCap(live.length + (request.count ?? 1) - 1, teamCaps.sandboxes, "running sandboxes per team");
  const vcpus = live.reduce((n, s) => n + s.vcpus, 0);
  const memoryMb = live.reduce((n, s) => n + s.memoryMb, 0);
  if (vcpus + request.vcpus > teamCaps.vcpus)
    throw errors.resourceExhausted(
      `limit reached: at most ${teamCaps.vcpus} vCPUs of running sandboxes per team`,
    );
  if (memoryMb + request.memoryMb > teamCaps.memoryMb)
    throw errors.resourceExhausted(
      `limit reached: at most ${teamCaps.memoryMb} MiB of running sandboxes' memory per team`,
    );
}
