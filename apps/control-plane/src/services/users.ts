import { errors } from "@wrenn/common";
import {
  type Database,
  getUserByEmail,
  getUserById,
  searchTeammatesByEmailPrefix,
  type User,
} from "@wrenn/db";
import { currentTeamAccess, requireUser, type TeamAccess } from "./access.ts";
import type { AuthContext } from "./auth-context.ts";

/** Minimum prefix length, so the search cannot enumerate every account. */
export const MIN_SEARCH_PREFIX = 3;

/** Site-wide user lookups (for the add-member autocomplete). */
export class UsersService {
  constructor(private readonly db: Database) {}

  /**
   * Up to `limit` users for the add-member autocomplete: those whose email starts with `prefix`
   * (at least 3 characters) among the people who share a team with the caller, plus the account
   * whose email is exactly `prefix`. So a signed-in user can complete a colleague's address or
   * confirm one they already know, but cannot enumerate the platform's accounts.
   */
  async search(
    auth: AuthContext,
    prefix: string,
    limit = 10,
  ): Promise<Pick<User, "id" | "email" | "name">[]> {
    const userId = requireUser(auth);
    const p = prefix.trim();
    if (p.length < MIN_SEARCH_PREFIX) {
      throw errors.invalidArgument(`email prefix must be at least ${MIN_SEARCH_PREFIX} characters`);
    }
    const [teammates, exact] = await Promise.all([
      searchTeammatesByEmailPrefix(this.db, userId, p, limit),
      p.includes("@") ? getUserByEmail(this.db, p) : undefined,
    ]);
    if (!exact || teammates.some((u) => u.id === exact.id)) return teammates;
    return [{ id: exact.id, email: exact.email, name: exact.name }, ...teammates].slice(0, limit);
  }

  /**
   * The caller as the database says now: its team and role (re-checked), and its user (for an
   * API key, the user who created it; undefined once that user is gone).
   */
  async whoAmI(auth: AuthContext): Promise<TeamAccess & { user: User | undefined }> {
    const access = await currentTeamAccess(this.db, auth);
    const user = auth.user ?? (auth.userId ? await getUserById(this.db, auth.userId) : undefined);
    return { ...access, user };
  }
}
