import { randomBytes } from "node:crypto";
import { and, asc, desc, eq, isNull, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { preparedOn } from "../prepared.ts";
import { type TeamRole, teams, users, usersTeams } from "../schema.ts";
import { insertedRow } from "./returned.ts";

/** A team row. */
export type Team = typeof teams.$inferSelect;

/** A team together with the caller's membership in it. */
export interface TeamWithRole {
  team: Team;
  role: TeamRole;
  isDefault: boolean;
}

/** A new random immutable slug: 12 hex digits as `a1b2c3-d1e2f3`. */
export function generateTeamSlug(): string {
  const hex = randomBytes(6).toString("hex");
  return `${hex.slice(0, 6)}-${hex.slice(6)}`;
}

/** Inserts a team with a fresh slug. */
export async function createTeam(ex: Executor, input: { name: string; isByoc?: boolean }): Promise<Team> {
  const [row] = await ex
    .insert(teams)
    .values({ name: input.name, slug: generateTeamSlug(), isByoc: input.isByoc ?? false })
    .returning();
  return insertedRow(row, "teams");
}

/** The team if it exists and is not soft-deleted. */
export async function getActiveTeam(ex: Executor, teamId: string): Promise<Team | undefined> {
  const [row] = await ex
    .select()
    .from(teams)
    .where(and(eq(teams.id, teamId), isNull(teams.deletedAt)))
    .limit(1);
  return row;
}

/** `userId`'s membership in the active team `teamId`, or undefined (non-members and deleted teams alike). */
export async function getMembership(
  ex: Executor,
  userId: string,
  teamId: string,
  options: { forUpdate?: boolean } = {},
): Promise<TeamWithRole | undefined> {
  const build = (e: Executor, user: SQL | Placeholder | string, team: SQL | Placeholder | string) =>
    e
      .select({ team: teams, role: usersTeams.role, isDefault: usersTeams.isDefault })
      .from(usersTeams)
      .innerJoin(teams, eq(teams.id, usersTeams.teamId))
      .where(and(eq(usersTeams.userId, user), eq(usersTeams.teamId, team), isNull(teams.deletedAt)))
      .limit(1);
  if (!options.forUpdate) {
    // Hot path: every team-scoped request re-checks membership.
    const stmt = preparedOn(ex, "membership", (db) =>
      build(db, sql.placeholder("userId"), sql.placeholder("teamId")).prepare("membership"),
    );
    if (stmt) return (await stmt.execute({ userId, teamId }))[0];
  }
  const q = build(ex, userId, teamId);
  const [row] = options.forUpdate ? await q.for("update") : await q;
  return row;
}

/** Every active team `userId` belongs to, default first, then by join time. */
export async function listTeamsForUser(ex: Executor, userId: string): Promise<TeamWithRole[]> {
  return ex
    .select({ team: teams, role: usersTeams.role, isDefault: usersTeams.isDefault })
    .from(usersTeams)
    .innerJoin(teams, eq(teams.id, usersTeams.teamId))
    .where(and(eq(usersTeams.userId, userId), isNull(teams.deletedAt)))
    .orderBy(desc(usersTeams.isDefault), asc(usersTeams.createdAt), asc(teams.id));
}

/** The team a login lands in: the default active team, else the first active team joined. */
export async function getLoginTeam(ex: Executor, userId: string): Promise<TeamWithRole | undefined> {
  const [first] = await listTeamsForUser(ex, userId);
  return first;
}

/** Adds `userId` to `teamId`. A duplicate raises a unique violation on `users_teams_pkey`. */
export async function addMember(
  ex: Executor,
  input: { teamId: string; userId: string; role: TeamRole; isDefault?: boolean },
): Promise<void> {
  await ex.insert(usersTeams).values({
    teamId: input.teamId,
    userId: input.userId,
    role: input.role,
    isDefault: input.isDefault ?? false,
  });
}

/** A member as listed on the team page. */
export interface Member {
  userId: string;
  email: string;
  name: string;
  role: TeamRole;
  joinedAt: Date;
}

/** The members of `teamId`, owners first. */
export async function listMembers(ex: Executor, teamId: string): Promise<Member[]> {
  return ex
    .select({
      userId: users.id,
      email: users.email,
      name: users.name,
      role: usersTeams.role,
      joinedAt: usersTeams.createdAt,
    })
    .from(usersTeams)
    .innerJoin(users, eq(users.id, usersTeams.userId))
    .where(eq(usersTeams.teamId, teamId))
    .orderBy(
      sql`CASE ${usersTeams.role} WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END`,
      asc(usersTeams.createdAt),
    );
}

/**
 * Locks every membership row of `teamId` for the rest of the transaction and
 * returns the roles, so owner-count invariants cannot race.
 */
export async function lockMemberships(
  ex: Executor,
  teamId: string,
): Promise<{ userId: string; role: TeamRole }[]> {
  return ex
    .select({ userId: usersTeams.userId, role: usersTeams.role })
    .from(usersTeams)
    .where(eq(usersTeams.teamId, teamId))
    .for("update");
}

/** Sets a member's role; returns false when no such membership exists. */
export async function updateMemberRole(
  ex: Executor,
  teamId: string,
  userId: string,
  role: TeamRole,
): Promise<boolean> {
  const rows = await ex
    .update(usersTeams)
    .set({ role })
    .where(and(eq(usersTeams.teamId, teamId), eq(usersTeams.userId, userId)))
    .returning({ userId: usersTeams.userId });
  return rows.length > 0;
}

/** Removes a membership; returns false when none existed. */
export async function removeMember(ex: Executor, teamId: string, userId: string): Promise<boolean> {
  const rows = await ex
    .delete(usersTeams)
    .where(and(eq(usersTeams.teamId, teamId), eq(usersTeams.userId, userId)))
    .returning({ userId: usersTeams.userId });
  return rows.length > 0;
}

/** Renames an active team; returns the updated row or undefined. */
export async function renameTeam(ex: Executor, teamId: string, name: string): Promise<Team | undefined> {
  const [row] = await ex
    .update(teams)
    .set({ name })
    .where(and(eq(teams.id, teamId), isNull(teams.deletedAt)))
    .returning();
  return row;
}

/** Soft-deletes an active team (its slug stays reserved); returns false if it was not active. */
export async function softDeleteTeam(ex: Executor, teamId: string): Promise<boolean> {
  const rows = await ex
    .update(teams)
    .set({ deletedAt: new Date() })
    .where(and(eq(teams.id, teamId), isNull(teams.deletedAt)))
    .returning({ id: teams.id });
  return rows.length > 0;
}

/** Marks a team as bring-your-own-compute (or not). */
export async function setTeamByoc(ex: Executor, teamId: string, isByoc: boolean): Promise<boolean> {
  const rows = await ex
    .update(teams)
    .set({ isByoc })
    .where(and(eq(teams.id, teamId), isNull(teams.deletedAt)))
    .returning({ id: teams.id });
  return rows.length > 0;
}
