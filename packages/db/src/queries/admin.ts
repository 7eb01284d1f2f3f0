import { type AnyColumn, and, desc, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { auditLogs, sandboxes, teams, users, usersTeams } from "../schema.ts";
import type { AuditLog } from "./audit.ts";
import type { Team } from "./teams.ts";
import type { User } from "./users.ts";
import { escapeLike } from "./users.ts";

/** Sandboxes that hold something on a host, by state. */
export interface SandboxCounts {
  running: number;
  paused: number;
  /** Every sandbox not yet stopped (running, paused, starting, pending, missing, error). */
  live: number;
}

const LIVE_STATES = ["pending", "starting", "running", "paused", "missing", "error"] as const;
const emptyCounts = (): SandboxCounts => ({ running: 0, paused: 0, live: 0 });

// Correlated subqueries below name the outer table in SQL: Drizzle renders a column of the only
// table in a select unqualified, which inside the subquery would bind to the inner tables.
const countColumns = {
  running: sql<number>`count(*) FILTER (WHERE ${sandboxes.state} = 'running')::int`,
  paused: sql<number>`count(*) FILTER (WHERE ${sandboxes.state} = 'paused')::int`,
  live: sql<number>`count(*)::int`,
};

// Live sandbox counts grouped by host or team, for the ids given (ids with none are absent).
async function liveCountsBy(
  ex: Executor,
  key: typeof sandboxes.hostId | typeof sandboxes.teamId,
  ids: string[],
): Promise<Map<string, SandboxCounts>> {
  const out = new Map<string, SandboxCounts>();
  if (ids.length === 0) return out;
  const rows = await ex
    .select({ key, ...countColumns })
    .from(sandboxes)
    .where(and(inArray(key, ids), inArray(sandboxes.state, [...LIVE_STATES])))
    .groupBy(key);
  for (const { key: id, ...counts } of rows) if (id) out.set(id, counts);
  return out;
}

// `(lower(a) LIKE %query% OR lower(b) …)`, or no condition without a query.
function containsAny(query: string | undefined, columns: AnyColumn[]): SQL | undefined {
  if (!query) return undefined;
  const pattern = `%${escapeLike(query.toLowerCase())}%`;
  const tests = columns.map((c) => sql`lower(${c}) LIKE ${pattern} ESCAPE '\\'`);
  return sql`(${sql.join(tests, sql` OR `)})`;
}

/** Live sandbox counts per host, for the hosts given (absent hosts have none). */
export async function countSandboxesByHost(
  ex: Executor,
  hostIds: string[],
): Promise<Map<string, SandboxCounts>> {
  const out = await liveCountsBy(ex, sandboxes.hostId, hostIds);
  for (const id of hostIds) if (!out.has(id)) out.set(id, emptyCounts());
  return out;
}

/** Names of the teams given (deleted ones included: a host may outlive its team's deletion). */
export async function teamNames(ex: Executor, teamIds: string[]): Promise<Map<string, string>> {
  if (teamIds.length === 0) return new Map();
  const rows = await ex
    .select({ id: teams.id, name: teams.name })
    .from(teams)
    .where(inArray(teams.id, teamIds));
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** A team as the admin list shows it. */
export interface AdminTeamRow extends Team {
  memberCount: number;
  sandboxes: SandboxCounts;
}

/**
 * Active teams (not the platform team, which has no members), newest first, optionally those
 * whose name or slug contains `query` (case-insensitive); at most `limit`.
 */
export async function listTeamsForAdmin(
  ex: Executor,
  opts: { query?: string; limit: number; excludeId: string },
): Promise<AdminTeamRow[]> {
  const rows = await ex
    .select({
      team: teams,
      memberCount: sql<number>`(SELECT count(*)::int FROM users_teams ut WHERE ut.team_id = teams.id)`,
    })
    .from(teams)
    .where(
      and(
        isNull(teams.deletedAt),
        sql`${teams.id} <> ${opts.excludeId}`,
        containsAny(opts.query, [teams.name, teams.slug]),
      ),
    )
    .orderBy(desc(teams.createdAt), desc(teams.id))
    .limit(opts.limit);
  const counts = await liveCountsBy(
    ex,
    sandboxes.teamId,
    rows.map((r) => r.team.id),
  );
  return rows.map((r) => ({
    ...r.team,
    memberCount: r.memberCount,
    sandboxes: counts.get(r.team.id) ?? emptyCounts(),
  }));
}

/** A user as the admin list shows it (never the password hash). */
export interface AdminUserRow extends Omit<User, "passwordHash" | "sessionVersion"> {
  teamCount: number;
  hasPassword: boolean;
}

/** Users, newest first, optionally those whose email or name contains `query`; at most `limit`. */
export async function listUsersForAdmin(
  ex: Executor,
  opts: { query?: string; limit: number },
): Promise<AdminUserRow[]> {
  return ex
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      isAdmin: users.isAdmin,
      createdAt: users.createdAt,
      updatedAt: users.updatedAt,
      hasPassword: sql<boolean>`${users.passwordHash} IS NOT NULL`,
      teamCount: sql<number>`(SELECT count(*)::int FROM users_teams ut JOIN teams t ON t.id = ut.team_id WHERE ut.user_id = users.id AND t.deleted_at IS NULL)`,
    })
    .from(users)
    .where(containsAny(opts.query, [users.email, users.name]))
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(opts.limit);
}

/** Sets a user's platform-admin flag; returns the updated user, or undefined when there is none. */
export async function setUserAdmin(
  ex: Executor,
  userId: string,
  isAdmin: boolean,
): Promise<User | undefined> {
  const [row] = await ex
    .update(users)
    .set({ isAdmin, updatedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  return row;
}

/**
 * Platform-wide audit events (no team: e.g. admin flag changes), newest first; `before` is the id
 * of the last event of the previous page (keyset pagination).
 */
export async function listPlatformAuditLogs(
  ex: Executor,
  opts: { limit: number; before?: string },
): Promise<AuditLog[]> {
  return ex
    .select()
    .from(auditLogs)
    .where(
      and(
        isNull(auditLogs.teamId),
        opts.before
          ? sql`(${auditLogs.createdAt}, ${auditLogs.id}) < (SELECT a.created_at, a.id FROM audit_logs a WHERE a.id = ${opts.before} AND a.team_id IS NULL)`
          : undefined,
      ),
    )
    .orderBy(desc(auditLogs.createdAt), desc(auditLogs.id))
    .limit(opts.limit);
}

/**
 * Users whose email starts with `prefix` among those who share an active team with `userId`
 * (the caller included), for the add-member autocomplete: nobody can list accounts they have
 * no team in common with.
 */
export async function searchTeammatesByEmailPrefix(
  ex: Executor,
  userId: string,
  prefix: string,
  limit: number,
): Promise<Pick<User, "id" | "email" | "name">[]> {
  const pattern = `${escapeLike(prefix.toLowerCase())}%`;
  return ex
    .selectDistinct({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .innerJoin(usersTeams, eq(usersTeams.userId, users.id))
    .innerJoin(teams, and(eq(teams.id, usersTeams.teamId), isNull(teams.deletedAt)))
    .where(
      and(
        sql`lower(${users.email}) LIKE ${pattern} ESCAPE '\\'`,
        sql`${usersTeams.teamId} IN (SELECT team_id FROM users_teams WHERE user_id = ${userId})`,
      ),
    )
    .orderBy(users.email)
    .limit(limit);
}
