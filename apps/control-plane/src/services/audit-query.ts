import { type AuditLog, type AuditQuery, type AuditScope, type Database, listAuditLogs } from "@wrenn/db";
import { currentTeamAccess, requireUser, roleAtLeast } from "./access.ts";
import type { AuthContext } from "./auth-context.ts";

/** Reads the audit trail of the caller's current team. */
export class AuditQueryService {
  constructor(private readonly db: Database) {}

  /**
   * One page, newest first. Members see `team`-scoped events; admins and owners
   * (checked in the database) also see `admin`-scoped ones. Returns the page and
   * the cursor of the next page when there may be more.
   */
  async list(
    auth: AuthContext,
    q: Omit<AuditQuery, "teamId" | "scopes"> & { scopes?: AuditScope[] },
  ): Promise<{ items: AuditLog[]; nextCursor: string | null }> {
    requireUser(auth);
    const { team, role } = await currentTeamAccess(this.db, auth);
    const visible: AuditScope[] = role && roleAtLeast(role, "admin") ? ["team", "admin"] : ["team"];
    // A scope filter narrows what the role may see; it never widens it.
    const scopes = q.scopes?.length ? visible.filter((s) => q.scopes?.includes(s)) : visible;
    if (scopes.length === 0) return { items: [], nextCursor: null };
    const items = await listAuditLogs(this.db, {
      ...q,
      teamId: team.id,
      scopes,
      limit: q.limit + 1,
    });
    const more = items.length > q.limit;
    const page = more ? items.slice(0, q.limit) : items;
    return { items: page, nextCursor: more ? (page.at(-1)?.id ?? null) : null };
  }
}
