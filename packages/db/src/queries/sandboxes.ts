import { and, desc, eq, inArray, or, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { PLATFORM_TEAM_ID, type SandboxState, sandboxes, templates } from "../schema.ts";

/** A sandbox row. */
export type Sandbox = typeof sandboxes.$inferSelect;
/** A template row. */
export type Template = typeof templates.$inferSelect;

/** Inserts a sandbox row (state `starting`, already placed on `hostId`). */
export async function createSandboxRow(
  ex: Executor,
  input: {
    id: string;
    teamId: string;
    hostId: string;
    template: string;
    templateId: string;
    vcpus: number;
    memoryMb: number;
    diskSizeMb: number;
    timeoutSec: number;
    metadata: Record<string, string>;
    envdAccessToken: string | null;
  },
): Promise<Sandbox> {
  const [row] = await ex
    .insert(sandboxes)
    .values({ ...input, state: "starting" })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

/** The sandbox `id` of `teamId`, or undefined (other teams' sandboxes included). */
export async function getSandbox(ex: Executor, teamId: string, id: string): Promise<Sandbox | undefined> {
  const [row] = await ex
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.id, id), eq(sandboxes.teamId, teamId)))
    .limit(1);
  return row;
}

/** Changes a sandbox's state (and optionally other columns); returns the updated row. */
export async function updateSandbox(
  ex: Executor,
  id: string,
  set: Partial<Pick<Sandbox, "state" | "hostId" | "startedAt" | "lastActiveAt" | "hostIp" | "timeoutSec">>,
  at = new Date(),
): Promise<Sandbox | undefined> {
  const [row] = await ex
    .update(sandboxes)
    .set({ ...set, lastUpdated: at })
    .where(eq(sandboxes.id, id))
    .returning();
  return row;
}

/** Filters and cursor of a sandbox listing. */
export interface SandboxListQuery {
  teamId: string;
  states?: SandboxState[];
  /** Every pair must match exactly. */
  metadata?: Record<string, string>;
  /** Rows strictly after this sandbox in (created_at desc, id desc) order (keyset pagination). */
  afterId?: string;
  limit: number;
}

/** One page of a team's sandboxes, newest first. */
export async function listSandboxes(ex: Executor, q: SandboxListQuery): Promise<Sandbox[]> {
  const conds: (SQL | undefined)[] = [eq(sandboxes.teamId, q.teamId)];
  if (q.states?.length) conds.push(inArray(sandboxes.state, q.states));
  if (q.metadata && Object.keys(q.metadata).length) {
    conds.push(sql`${sandboxes.metadata} @> ${JSON.stringify(q.metadata)}::jsonb`);
  }
  if (q.afterId) {
    // Compared in SQL so the microsecond timestamps never pass through a millisecond JS Date.
    conds.push(
      sql`(${sandboxes.createdAt}, ${sandboxes.id}) < (SELECT s.created_at, s.id FROM sandboxes s WHERE s.id = ${q.afterId} AND s.team_id = ${q.teamId})`,
    );
  }
  return ex
    .select()
    .from(sandboxes)
    .where(and(...conds))
    .orderBy(desc(sandboxes.createdAt), desc(sandboxes.id))
    .limit(q.limit);
}

/** Every sandbox placed on `hostId` in one of `states`. */
export async function listSandboxesOnHost(
  ex: Executor,
  hostId: string,
  states: SandboxState[],
): Promise<Sandbox[]> {
  return ex
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.hostId, hostId), inArray(sandboxes.state, states)));
}

/** Moves every sandbox of `hostId` in state `from` to `to`; returns their ids. */
export async function transitionSandboxesOnHost(
  ex: Executor,
  hostId: string,
  from: SandboxState[],
  to: SandboxState,
  at = new Date(),
): Promise<string[]> {
  const rows = await ex
    .update(sandboxes)
    .set({ state: to, lastUpdated: at })
    .where(and(eq(sandboxes.hostId, hostId), inArray(sandboxes.state, from)))
    .returning({ id: sandboxes.id });
  return rows.map((r) => r.id);
}

/** Sandboxes of `teamId` that still hold resources on a host (for team deletion). */
export async function listLiveSandboxesOfTeam(ex: Executor, teamId: string): Promise<Sandbox[]> {
  return ex
    .select()
    .from(sandboxes)
    .where(
      and(
        eq(sandboxes.teamId, teamId),
        inArray(sandboxes.state, ["pending", "starting", "running", "paused", "missing"]),
      ),
    );
}

/** Running (or starting) sandbox counts per host, for least-loaded scheduling. */
export async function countActiveSandboxesByHost(
  ex: Executor,
  hostIds: string[],
): Promise<Map<string, { count: number; vcpus: number; memoryMb: number }>> {
  const out = new Map<string, { count: number; vcpus: number; memoryMb: number }>();
  if (hostIds.length === 0) return out;
  const rows = await ex
    .select({
      hostId: sandboxes.hostId,
      count: sql<number>`count(*)::int`,
      vcpus: sql<number>`coalesce(sum(${sandboxes.vcpus}), 0)::int`,
      memoryMb: sql<number>`coalesce(sum(${sandboxes.memoryMb}), 0)::int`,
    })
    .from(sandboxes)
    .where(and(inArray(sandboxes.hostId, hostIds), inArray(sandboxes.state, ["starting", "running"])))
    .groupBy(sandboxes.hostId);
  for (const r of rows)
    if (r.hostId) out.set(r.hostId, { count: r.count, vcpus: r.vcpus, memoryMb: r.memoryMb });
  return out;
}

/** The template `name` visible to `teamId`: its own first, then the platform's. */
export async function findTemplateByName(
  ex: Executor,
  teamId: string,
  name: string,
): Promise<Template | undefined> {
  const rows = await ex
    .select()
    .from(templates)
    .where(
      and(eq(templates.name, name), or(eq(templates.teamId, teamId), eq(templates.teamId, PLATFORM_TEAM_ID))),
    );
  return rows.find((t) => t.teamId === teamId) ?? rows[0];
}

/**
 * Moves sandbox `id` to `to` only while it is in one of `from` (so a
 * background job never overwrites a user's concurrent action); the updated
 * row, or undefined when the state had changed.
 */
export async function transitionSandbox(
  ex: Executor,
  id: string,
  from: SandboxState[],
  to: SandboxState,
  at = new Date(),
): Promise<Sandbox | undefined> {
  const [row] = await ex
    .update(sandboxes)
    .set({ state: to, lastUpdated: at })
    .where(and(eq(sandboxes.id, id), inArray(sandboxes.state, from)))
    .returning();
  return row;
}

/** Sandboxes by id (any team): the background reconciler's lookup of what an agent reports. */
export async function getSandboxesByIds(ex: Executor, ids: string[]): Promise<Sandbox[]> {
  if (ids.length === 0) return [];
  return ex.select().from(sandboxes).where(inArray(sandboxes.id, ids));
}
