import { and, desc, eq, inArray, isNotNull, lte, ne, or, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import {
  PLATFORM_TEAM_ID,
  type SandboxState,
  type SandboxTimeoutAction,
  sandboxes,
  templates,
} from "../schema.ts";
import { insertedRow } from "./returned.ts";

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
    /** Absent: the open policy (the columns' defaults). */
    egress?: SandboxEgress;
  },
): Promise<Sandbox> {
  const { egress, ...columns } = input;
  const [row] = await ex
    .insert(sandboxes)
    .values({ ...columns, ...egress, state: "starting" })
    .returning();
  return insertedRow(row, "sandboxes");
}

/** A sandbox's egress policy as its row holds it. */
export type SandboxEgress = Pick<Sandbox, "allowInternet" | "allowOut" | "denyOut">;

/** Replaces the egress policy of sandbox `id` of `teamId`; undefined when there is no such sandbox. */
export async function setSandboxEgress(
  ex: Executor,
  teamId: string,
  id: string,
  egress: SandboxEgress,
  at = new Date(),
): Promise<Sandbox | undefined> {
  const [row] = await ex
    .update(sandboxes)
    .set({ ...egress, lastUpdated: at })
    .where(and(eq(sandboxes.teamId, teamId), eq(sandboxes.id, id)))
    .returning();
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
  /** Only sandboxes started from the template of this name. */
  template?: string;
  /** Only sandboxes started from the template with this id. */
  templateId?: string;
  /** Only sandboxes started (or, not started yet, created) at or after this time. */
  startedAfter?: Date;
  /** Newest first (default) or oldest first, by creation time. */
  order?: "asc" | "desc";
  /** Rows strictly after this sandbox in the listing's (created_at, id) order (keyset pagination). */
  afterId?: string;
  limit: number;
}

/** One page of a team's sandboxes, newest first unless `order` is `asc`. */
export async function listSandboxes(ex: Executor, q: SandboxListQuery): Promise<Sandbox[]> {
  const asc = q.order === "asc";
  const conds = listFilters(q);
  if (q.afterId) {
    // Compared in SQL so the microsecond timestamps never pass through a millisecond JS Date.
    const after = sql`(SELECT s.created_at, s.id FROM sandboxes s WHERE s.id = ${q.afterId} AND s.team_id = ${q.teamId})`;
    conds.push(
      asc
        ? sql`(${sandboxes.createdAt}, ${sandboxes.id}) > ${after}`
        : sql`(${sandboxes.createdAt}, ${sandboxes.id}) < ${after}`,
    );
  }
  return ex
    .select()
    .from(sandboxes)
    .where(and(...conds))
    .orderBy(...(asc ? [sandboxes.createdAt, sandboxes.id] : [desc(sandboxes.createdAt), desc(sandboxes.id)]))
    .limit(q.limit);
}

/** The filters of a listing (team, states, template, start time, metadata), without its cursor. */
type SandboxListFilters = Omit<SandboxListQuery, "order" | "afterId" | "limit">;

function listFilters(q: SandboxListFilters): (SQL | undefined)[] {
  const conds: (SQL | undefined)[] = [eq(sandboxes.teamId, q.teamId)];
  if (q.states?.length) conds.push(inArray(sandboxes.state, q.states));
  if (q.template !== undefined) conds.push(eq(sandboxes.template, q.template));
  if (q.templateId !== undefined) conds.push(eq(sandboxes.templateId, q.templateId));
  if (q.startedAfter) {
    conds.push(
      sql`coalesce(${sandboxes.startedAt}, ${sandboxes.createdAt}) >= ${q.startedAfter.toISOString()}`,
    );
  }
  if (q.metadata && Object.keys(q.metadata).length) {
    conds.push(sql`${sandboxes.metadata} @> ${JSON.stringify(q.metadata)}::jsonb`);
  }
  return conds;
}

/** How many sandboxes of a team match a listing's filters, all pages together (E2B's `X-Total-Running`). */
export async function countSandboxes(ex: Executor, q: SandboxListFilters): Promise<number> {
  const [row] = await ex
    .select({ n: sql<number>`count(*)::int` })
    .from(sandboxes)
    .where(and(...listFilters(q)));
  return row?.n ?? 0;
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

/** Sandboxes that still hold an envd access token (any state but destroyed), for re-sealing tokens. */
export async function listSandboxEnvdTokens(
  ex: Executor,
): Promise<{ id: string; envdAccessToken: string }[]> {
  const rows = await ex
    .select({ id: sandboxes.id, envdAccessToken: sandboxes.envdAccessToken })
    .from(sandboxes)
    .where(and(isNotNull(sandboxes.envdAccessToken), ne(sandboxes.state, "stopped")));
  return rows.flatMap((r) =>
    r.envdAccessToken === null ? [] : [{ id: r.id, envdAccessToken: r.envdAccessToken }],
  );
}

/** Replaces a sandbox's stored envd token only if it is still `from` (a concurrent write wins). */
export async function replaceSandboxEnvdToken(
  ex: Executor,
  id: string,
  from: string,
  to: string,
): Promise<boolean> {
  const rows = await ex
    .update(sandboxes)
    .set({ envdAccessToken: to })
    .where(and(eq(sandboxes.id, id), eq(sandboxes.envdAccessToken, from)))
    .returning({ id: sandboxes.id });
  return rows.length > 0;
}

/** A sandbox's E2B lifecycle (see `sandboxes.end_at`). */
export interface SandboxDeadline {
  /** Absolute end time; null = none now (never, or paused). */
  endAt: Date | null;
  onTimeout: SandboxTimeoutAction;
  autoResume: boolean;
  /** The timeout given at creation (seconds), what an auto-resume runs again. */
  e2bTimeoutSec: number | null;
}

/** Sets (or, with `endAt` only, moves) the E2B end time of a sandbox of `teamId`. */
export async function setSandboxDeadline(
  ex: Executor,
  teamId: string,
  id: string,
  deadline: Pick<SandboxDeadline, "endAt"> & Partial<SandboxDeadline>,
  at = new Date(),
): Promise<Sandbox | undefined> {
  const [row] = await ex
    .update(sandboxes)
    .set({ ...deadline, lastUpdated: at })
    .where(and(eq(sandboxes.teamId, teamId), eq(sandboxes.id, id)))
    .returning();
  return row;
}

/** Running sandboxes whose E2B end time is at or before `now`, oldest first (all teams: the expiry pass). */
export async function listExpiredSandboxes(ex: Executor, now: Date, limit: number): Promise<Sandbox[]> {
  return ex
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.state, "running"), isNotNull(sandboxes.endAt), lte(sandboxes.endAt, now)))
    .orderBy(sandboxes.endAt)
    .limit(limit);
}

/** Drops a sandbox's E2B end time (it stopped running: a paused sandbox has none until resumed). */
export async function clearSandboxEndAt(ex: Executor, id: string): Promise<void> {
  await ex
    .update(sandboxes)
    .set({ endAt: null })
    .where(and(eq(sandboxes.id, id), isNotNull(sandboxes.endAt)));
}
