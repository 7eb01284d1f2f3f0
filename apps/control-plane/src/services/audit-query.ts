import { type AuditLog, type Database, listAuditLogs } from "@wrenn/db";
import type { AuthContext } from "../http/context.ts";
import { currentTeamAccess, requireUser, roleAtLeast } from "./access.ts";

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
    q: { resourceTypes?: string[]; actions?: string[]; before?: string; limit: number },
  ): Promise<{ items: AuditLog[]; nextCursor: string | null }> {
    requireUser(auth);
    const { team, role } = await currentTeamAccess(this.db, auth);
    const scopes = role && roleAtLeast(role, "admin") ? (["team", "admin"] as const) : (["team"] as const);
    const items = await listAuditLogs(this.db, {
      ...q,
      teamId: team.id,
      scopes: [...scopes],
      limit: q.limit + 1,
    });
    const more = items.length > q.limit;
    const page = more ? items.slice(0, q.limit) : items;
    return { items: page, nextCursor: more ? (page.at(-1)?.id ?? null) : null };
  }
}
