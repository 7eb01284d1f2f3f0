import { errors } from "@wrenn/common";
import { type Database, searchUsersByEmailPrefix } from "@wrenn/db";
import type { AuthContext } from "../http/context.ts";
import { requireUser } from "./access.ts";

/** Minimum prefix length, so the search cannot enumerate every account. */
export const MIN_SEARCH_PREFIX = 3;

/** Site-wide user lookups (for the add-member autocomplete). */
export class UsersService {
  constructor(private readonly db: Database) {}

  /** Up to `limit` users whose email starts with `prefix` (at least 3 characters). */
  search(auth: AuthContext, prefix: string, limit = 10) {
    requireUser(auth);
    const p = prefix.trim();
    if (p.length < MIN_SEARCH_PREFIX) {
      throw errors.invalidArgument(`email prefix must be at least ${MIN_SEARCH_PREFIX} characters`);
    }
    return searchUsersByEmailPrefix(this.db, p, limit);
  }
}
