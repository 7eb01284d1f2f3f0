import { and, asc, eq, isNull, type Placeholder, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { preparedOn } from "../prepared.ts";
import { teamApiKeys, teams, users } from "../schema.ts";
import { insertedRow } from "./returned.ts";

/** An API key row (the hash, never the key). */
export type ApiKey = typeof teamApiKeys.$inferSelect;

/** Stores a new key's hash and prefix. */
export async function createApiKey(
  ex: Executor,
  input: { teamId: string; name: string; keyHash: string; keyPrefix: string; createdBy: string | null },
): Promise<ApiKey> {
  const [row] = await ex.insert(teamApiKeys).values(input).returning();
  return insertedRow(row, "team_api_keys");
}

/** A key as listed: with its creator's email and name when the creator still exists. */
export interface ApiKeyListing extends ApiKey {
  creatorEmail: string | null;
  creatorName: string | null;
}

/** The keys of `teamId`, oldest first. */
export async function listApiKeys(ex: Executor, teamId: string): Promise<ApiKeyListing[]> {
  const rows = await ex
    .select({ key: teamApiKeys, creatorEmail: users.email, creatorName: users.name })
    .from(teamApiKeys)
    .leftJoin(users, eq(users.id, teamApiKeys.createdBy))
    .where(eq(teamApiKeys.teamId, teamId))
    .orderBy(asc(teamApiKeys.createdAt), asc(teamApiKeys.id));
  return rows.map((r) => ({ ...r.key, creatorEmail: r.creatorEmail, creatorName: r.creatorName }));
}

/** Deletes the key `id` of `teamId`; returns the deleted row, or undefined (including other teams' keys). */
export async function deleteApiKey(ex: Executor, teamId: string, id: string): Promise<ApiKey | undefined> {
  const [row] = await ex
    .delete(teamApiKeys)
    .where(and(eq(teamApiKeys.id, id), eq(teamApiKeys.teamId, teamId)))
    .returning();
  return row;
}

/**
 * Revokes every key `userId` created in `teamId`; returns how many were deleted. Called in the same
 * transaction that takes the user's membership away, so a key never outlives its creator's access.
 */
export async function deleteApiKeysCreatedBy(ex: Executor, teamId: string, userId: string): Promise<number> {
  const rows = await ex
    .delete(teamApiKeys)
    .where(and(eq(teamApiKeys.teamId, teamId), eq(teamApiKeys.createdBy, userId)))
    .returning({ id: teamApiKeys.id });
  return rows.length;
}

/** Revokes every key of `teamId` (the team is being deleted); returns how many were deleted. */
export async function deleteTeamApiKeys(ex: Executor, teamId: string): Promise<number> {
  const rows = await ex
    .delete(teamApiKeys)
    .where(eq(teamApiKeys.teamId, teamId))
    .returning({ id: teamApiKeys.id });
  return rows.length;
}

/** The key with this hash and its team, when the team is active; else undefined. */
export async function findApiKeyByHash(
  ex: Executor,
  keyHash: string,
): Promise<{ key: ApiKey; team: typeof teams.$inferSelect } | undefined> {
  const build = (e: Executor, hash: SQL | Placeholder | string) =>
    e
      .select({ key: teamApiKeys, team: teams })
      .from(teamApiKeys)
      .innerJoin(teams, eq(teams.id, teamApiKeys.teamId))
      .where(and(eq(teamApiKeys.keyHash, hash), isNull(teams.deletedAt)))
      .limit(1);
  const stmt = preparedOn(ex, "api_key_by_hash", (db) =>
    build(db, sql.placeholder("hash")).prepare("api_key_by_hash"),
  );
  const [row] = stmt ? await stmt.execute({ hash: keyHash }) : await build(ex, keyHash);
  return row;
}

/** Records that key `id` was just used. */
export async function touchApiKey(ex: Executor, id: string, at = new Date()): Promise<void> {
  await ex.update(teamApiKeys).set({ lastUsedAt: at }).where(eq(teamApiKeys.id, id));
}

/** The key `id` and its team, when the team is active; else undefined (for re-checking a key by id). */
export async function getApiKeyWithTeam(
  ex: Executor,
  id: string,
): Promise<{ key: ApiKey; team: typeof teams.$inferSelect } | undefined> {
  const [row] = await ex
    .select({ key: teamApiKeys, team: teams })
    .from(teamApiKeys)
    .innerJoin(teams, eq(teams.id, teamApiKeys.teamId))
    .where(and(eq(teamApiKeys.id, id), isNull(teams.deletedAt)))
    .limit(1);
  return row;
}
