import { and, eq, isNull, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { hosts, type SandboxState, sandboxes, teams } from "../schema.ts";

/** What the control plane's port proxy needs to route one sandbox's traffic. */
export interface SandboxProxyTarget {
  sandboxId: string;
  teamId: string;
  state: SandboxState;
  /** The envd access token (compare it by hash, never by `===`). */
  envdAccessToken: string | null;
  hostId: string | null;
  /** The agent's `ip:port`; empty when the host has not registered an address. */
  hostAddress: string;
  /** Null when the sandbox has no host (or the host row is gone). */
  hostStatus: string | null;
  /** E2B's auto-resume: proxied traffic resumes the sandbox while it is paused. */
  autoResume: boolean;
}

/**
 * The sandbox `id` with its host's address and status, in one query (the proxy's cache
 * miss path). Sandboxes of soft-deleted teams are not found. Any team: callers authorize.
 */
export async function getSandboxProxyTarget(
  ex: Executor,
  id: string,
): Promise<SandboxProxyTarget | undefined> {
  const [row] = await ex
    .select({
      sandboxId: sandboxes.id,
      teamId: sandboxes.teamId,
      state: sandboxes.state,
      envdAccessToken: sandboxes.envdAccessToken,
      hostId: sandboxes.hostId,
      hostAddress: sql<string>`coalesce(${hosts.address}, '')`,
      hostStatus: hosts.status,
      autoResume: sandboxes.autoResume,
    })
    .from(sandboxes)
    .innerJoin(teams, and(eq(teams.id, sandboxes.teamId), isNull(teams.deletedAt)))
    .leftJoin(hosts, eq(hosts.id, sandboxes.hostId))
    .where(eq(sandboxes.id, id))
    .limit(1);
  return row;
}

/**
 * Records proxied traffic as activity: sets `last_active_at` of a running sandbox
 * (callers throttle it; `last_updated` is left alone because the state did not change).
 */
export async function touchSandboxActivity(ex: Executor, id: string, at = new Date()): Promise<void> {
  await ex
    .update(sandboxes)
    .set({ lastActiveAt: at })
    .where(and(eq(sandboxes.id, id), eq(sandboxes.state, "running")));
}
