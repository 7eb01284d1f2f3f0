import { randomBytes } from "node:crypto";
import { anyAdminExists, type Database } from "@wrenn/db";
import { hashPassword } from "../auth/passwords.ts";
import { createUserWithTeam } from "./auth.ts";

/** The email of the admin account `wrenn up` creates on first run. */
export const DEFAULT_ADMIN_EMAIL = "admin@wrenn.local";

/**
 * Creates a platform admin (with its own team) when none exists yet and returns
 * its generated credentials — the only time the password is ever visible.
 * Returns undefined when an admin already exists.
 */
export async function ensureAdminAccount(
  db: Database,
  email = DEFAULT_ADMIN_EMAIL,
): Promise<{ email: string; password: string } | undefined> {
  if (await anyAdminExists(db)) return undefined;
  const password = randomBytes(18).toString("base64url");
  const passwordHash = await hashPassword(password);
  await db.transaction((tx) => createUserWithTeam(tx, { name: "Admin", email, passwordHash, isAdmin: true }));
  return { email, password };
}
