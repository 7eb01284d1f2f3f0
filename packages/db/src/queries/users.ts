import { eq, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { preparedOn } from "../prepared.ts";
import { users } from "../schema.ts";
import { insertedRow } from "./returned.ts";

/** A user row. */
export type User = typeof users.$inferSelect;

/** Inserts a user; a duplicate email (any case) raises a unique violation on `users_email_lower_key`. */
export async function createUser(
  ex: Executor,
  input: { email: string; name: string; passwordHash: string | null; isAdmin?: boolean },
): Promise<User> {
  const [row] = await ex
    .insert(users)
    .values({
      email: input.email,
      name: input.name,
      passwordHash: input.passwordHash,
      isAdmin: input.isAdmin ?? false,
    })
    .returning();
  return insertedRow(row, "users");
}

/** The user with `id`, or undefined. */
export async function getUserById(ex: Executor, id: string): Promise<User | undefined> {
  const stmt = preparedOn(ex, "users_by_id", (db) =>
    db
      .select()
      .from(users)
      .where(eq(users.id, sql.placeholder("id")))
      .limit(1)
      .prepare("users_by_id"),
  );
  const [row] = stmt
    ? await stmt.execute({ id })
    : await ex.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

/** The user whose email matches case-insensitively, or undefined. */
export async function getUserByEmail(ex: Executor, email: string): Promise<User | undefined> {
  const [row] = await ex.select().from(users).where(sql`lower(${users.email}) = lower(${email})`).limit(1);
  return row;
}

/** Escapes `%`, `_` and `\` so user input matches literally inside a LIKE pattern. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Users whose email starts with `prefix` (case-insensitive, LIKE metacharacters escaped). */
export async function searchUsersByEmailPrefix(
  ex: Executor,
  prefix: string,
  limit: number,
): Promise<Pick<User, "id" | "email" | "name">[]> {
  const pattern = `${escapeLike(prefix.toLowerCase())}%`;
  return ex
    .select({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(sql`lower(${users.email}) LIKE ${pattern} ESCAPE '\\'`)
    .orderBy(users.email)
    .limit(limit);
}

/** True when at least one platform admin exists. */
export async function anyAdminExists(ex: Executor): Promise<boolean> {
  const [row] = await ex.select({ id: users.id }).from(users).where(eq(users.isAdmin, true)).limit(1);
  return row !== undefined;
}

/** Revokes every session of `userId` (tokens carry the version); returns the new version. */
export async function bumpSessionVersion(ex: Executor, userId: string): Promise<number | undefined> {
  const [row] = await ex
    .update(users)
    .set({ sessionVersion: sql`${users.sessionVersion} + 1`, updatedAt: new Date() })
    .where(eq(users.id, userId))
    .returning({ sessionVersion: users.sessionVersion });
  return row?.sessionVersion;
}

/** Sets a new password hash and revokes every session issued before; returns the updated user. */
export async function changeUserPassword(
  ex: Executor,
  userId: string,
  passwordHash: string,
): Promise<User | undefined> {
  const [row] = await ex
    .update(users)
    .set({ passwordHash, sessionVersion: sql`${users.sessionVersion} + 1`, updatedAt: new Date() })
    .where(eq(users.id, userId))
    .returning();
  return row;
}
