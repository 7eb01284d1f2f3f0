import { errors } from "@wrenn/common";
import {
  type AdminTeamRow,
  type AdminUserRow,
  type AuditLog,
  countSandboxesByHost,
  type Database,
  type HostWithTags,
  listHosts,
  listPlatformAuditLogs,
  listTeamsForAdmin,
  listUsersForAdmin,
  PLATFORM_TEAM_ID,
  type SandboxCounts,
  setUserAdmin,
  teamNames,
  type User,
} from "@wrenn/db";
import { actorOf } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";

/** A host as the admin view shows it: with its team's name and the sandboxes on it. */
export interface AdminHost extends HostWithTags {
  teamName: string | null;
  sandboxes: SandboxCounts;
}

/** Most rows an admin list returns at once (narrow with a query beyond that). */
export const ADMIN_LIST_MAX = 500;

/**
 * The platform admin's view of every team's hosts, teams and users. Routes put `requireAdmin`
 * in front; each method checks the flag again (read from the database for this request), so no
 * other caller can reach these lists by mistake.
 */
export class AdminService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLogger,
  ) {}

  /** Every host, platform and BYOC, oldest first. */
  async hosts(auth: AuthContext): Promise<AdminHost[]> {
    requirePlatformAdmin(auth);
    const hosts = await listHosts(this.db, {});
    const [counts, names] = await Promise.all([
      countSandboxesByHost(
        this.db,
        hosts.map((h) => h.id),
      ),
      teamNames(this.db, [...new Set(hosts.flatMap((h) => (h.teamId ? [h.teamId] : [])))]),
    ]);
    return hosts.map((h) => ({
      ...h,
      teamName: h.teamId ? (names.get(h.teamId) ?? null) : null,
      sandboxes: counts.get(h.id) ?? { running: 0, paused: 0, live: 0 },
    }));
  }

  /** Active teams, newest first; `query` matches name or slug. */
  teams(auth: AuthContext, opts: { query?: string; limit?: number }): Promise<AdminTeamRow[]> {
    requirePlatformAdmin(auth);
    return listTeamsForAdmin(this.db, {
      ...(opts.query ? { query: opts.query } : {}),
      limit: opts.limit ?? ADMIN_LIST_MAX,
      excludeId: PLATFORM_TEAM_ID,
    });
  }

  /** Users, newest first; `query` matches email or name. */
  users(auth: AuthContext, opts: { query?: string; limit?: number }): Promise<AdminUserRow[]> {
    requirePlatformAdmin(auth);
    return listUsersForAdmin(this.db, {
      ...(opts.query ? { query: opts.query } : {}),
      limit: opts.limit ?? ADMIN_LIST_MAX,
    });
  }

  /** Platform-wide audit events (those of no team), newest first, one page after `cursor`. */
  async auditLogs(
    auth: AuthContext,
    opts: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: AuditLog[]; nextCursor: string | null }> {
    requirePlatformAdmin(auth);
    const rows = await listPlatformAuditLogs(this.db, {
      limit: opts.limit + 1,
      ...(opts.cursor ? { before: opts.cursor } : {}),
    });
    const items = rows.slice(0, opts.limit);
    return { items, nextCursor: rows.length > opts.limit ? (items.at(-1)?.id ?? null) : null };
  }

  /**
   * Grants or removes a user's platform-admin flag (audited). An admin cannot remove their own
   * flag, so the platform never loses its last admin by accident.
   */
  async setAdmin(auth: AuthContext, userId: string, isAdmin: boolean): Promise<User> {
    requirePlatformAdmin(auth);
    if (userId === auth.userId && !isAdmin) {
      throw errors.failedPrecondition("you cannot remove your own admin flag; ask another admin");
    }
    const user = await setUserAdmin(this.db, userId, isAdmin);
    if (!user) throw errors.notFound("user not found");
    await this.audit.userAdminSet(actorOf(auth), userId, isAdmin);
    return user;
  }
}

function requirePlatformAdmin(auth: AuthContext): void {
  if (auth.kind !== "jwt" || !auth.isAdmin) throw errors.permissionDenied("platform admin only");
}
