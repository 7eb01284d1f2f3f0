import { errors } from "@wrenn/common";
import {
  addMember,
  createTeam,
  type Database,
  deleteApiKeysCreatedBy,
  deleteTeamApiKeys,
  getActiveTeam,
  getMembership,
  getUserByEmail,
  getUserById,
  isUniqueViolation,
  listMembers,
  listTeamsForUser,
  lockMemberships,
  type Member,
  removeMember,
  renameTeam,
  setTeamByoc,
  softDeleteTeam,
  type Team,
  type TeamRole,
  type TeamWithRole,
  updateMemberRole,
} from "@wrenn/db";
import { currentTeamAccess, requireUser, roleAtLeast, type TeamAccess } from "./access.ts";
import { actorOf } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";
import { requireBelowCap, teamCaps } from "./team-caps.ts";

/** Called before a team is soft-deleted, e.g. to destroy its sandboxes (added with the sandbox service). */
export type TeamDeletionHook = (teamId: string) => Promise<void>;

const LAST_OWNER = "a team must keep at least one owner";

/** Teams, memberships and the owner invariants. Every check reads the database, never the JWT role. */
export class TeamsService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLogger,
    private readonly beforeDelete: TeamDeletionHook[] = [],
  ) {}

  /**
   * The team the request acts in and the caller's role there, as the database says now: an API
   * key's team must be active, a JWT's user still a member (see {@link currentTeamAccess}).
   */
  access(auth: AuthContext): Promise<TeamAccess> {
    return currentTeamAccess(this.db, auth);
  }

  /** The caller's membership; a team they do not belong to (or a deleted one) is `not_found`. */
  async membership(auth: AuthContext, teamId: string): Promise<TeamWithRole> {
    const userId = requireUser(auth);
    const m = await getMembership(this.db, userId, teamId);
    if (!m) throw errors.notFound("team not found");
    return m;
  }

  private async requireRole(auth: AuthContext, teamId: string, min: TeamRole): Promise<TeamWithRole> {
    const m = await this.membership(auth, teamId);
    if (!roleAtLeast(m.role, min)) throw errors.permissionDenied(`this action needs the ${min} role`);
    return m;
  }

  /** The caller's active teams. */
  list(auth: AuthContext): Promise<TeamWithRole[]> {
    return listTeamsForUser(this.db, requireUser(auth));
  }

  /** Creates a team owned by the caller. */
  async create(auth: AuthContext, name: string): Promise<TeamWithRole> {
    const userId = requireUser(auth);
    requireBelowCap(
      (await listTeamsForUser(this.db, userId)).length,
      teamCaps.teamsPerUser,
      "teams per user",
    );
    const team = await this.db.transaction(async (tx) => {
      const t = await createTeam(tx, { name });
      await addMember(tx, { teamId: t.id, userId, role: "owner" });
      return t;
    });
    await this.audit.teamCreated(actorOf(auth), team.id, name);
    return { team, role: "owner", isDefault: false };
  }

  /** Renames a team (admin or owner). */
  async rename(auth: AuthContext, teamId: string, name: string): Promise<TeamWithRole> {
    const m = await this.requireRole(auth, teamId, "admin");
    const team = await renameTeam(this.db, teamId, name);
    if (!team) throw errors.notFound("team not found");
    await this.audit.teamRenamed(actorOf(auth), teamId, m.team.name, name);
    return { ...m, team };
  }

  /** Soft-deletes a team (owner only) after running the deletion hooks. */
  async delete(auth: AuthContext, teamId: string): Promise<void> {
    await this.requireRole(auth, teamId, "owner");
    for (const hook of this.beforeDelete) await hook(teamId);
    await this.db.transaction(async (tx) => {
      if (!(await softDeleteTeam(tx, teamId))) throw errors.notFound("team not found");
      // Keys act for the team; a deleted team's keys are revoked, not merely unusable while it stays deleted.
      await deleteTeamApiKeys(tx, teamId);
    });
    await this.audit.teamDeleted(actorOf(auth), teamId);
  }

  /** Members of a team the caller belongs to. */
  async members(auth: AuthContext, teamId: string): Promise<Member[]> {
    await this.membership(auth, teamId);
    return listMembers(this.db, teamId);
  }

  /** Adds an existing user by email (admin+; only owners may add owners). */
  async addMember(auth: AuthContext, teamId: string, email: string, role: TeamRole): Promise<Member> {
    const m = await this.requireRole(auth, teamId, "admin");
    if (role === "owner" && m.role !== "owner") throw errors.permissionDenied("only owners can add owners");
    const user = await getUserByEmail(this.db, email.trim());
    if (!user) throw errors.notFound("no user with this email");
    try {
      await addMember(this.db, { teamId, userId: user.id, role });
    } catch (err) {
      if (isUniqueViolation(err)) throw errors.alreadyExists("this user is already a member");
      throw err;
    }
    await this.audit.memberAdded(actorOf(auth), teamId, user.id, user.email, role);
    return { userId: user.id, email: user.email, name: user.name, role, joinedAt: new Date() };
  }

  /**
   * Changes a member's role (admin+). Owners alone may grant or take away the
   * owner role, and the last owner cannot be demoted.
   */
  async updateRole(auth: AuthContext, teamId: string, targetUserId: string, role: TeamRole): Promise<void> {
    const actorId = requireUser(auth);
    const from = await this.db.transaction(async (tx) => {
      const rows = await lockMemberships(tx, teamId);
      const me = rows.find((r) => r.userId === actorId);
      if (!me || !(await getMembership(tx, actorId, teamId))) throw errors.notFound("team not found");
      if (!roleAtLeast(me.role, "admin")) throw errors.permissionDenied("this action needs the admin role");
      const target = rows.find((r) => r.userId === targetUserId);
      if (!target) throw errors.notFound("member not found");
      if ((target.role === "owner" || role === "owner") && me.role !== "owner") {
        throw errors.permissionDenied("only owners can grant or remove the owner role");
      }
      if (
        target.role === "owner" &&
        role !== "owner" &&
        rows.filter((r) => r.role === "owner").length === 1
      ) {
        throw errors.failedPrecondition(LAST_OWNER);
      }
      await updateMemberRole(tx, teamId, targetUserId, role);
      return target.role;
    });
    if (from !== role) await this.audit.memberRoleUpdated(actorOf(auth), teamId, targetUserId, from, role);
  }

  /** Removes another member (admin+; removing an owner needs an owner and never the last one). */
  async removeMember(auth: AuthContext, teamId: string, targetUserId: string): Promise<void> {
    const actorId = requireUser(auth);
    if (targetUserId === actorId) return this.leave(auth, teamId);
    const email = await this.db.transaction(async (tx) => {
      const rows = await lockMemberships(tx, teamId);
      const me = rows.find((r) => r.userId === actorId);
      if (!me || !(await getMembership(tx, actorId, teamId))) throw errors.notFound("team not found");
      if (!roleAtLeast(me.role, "admin")) throw errors.permissionDenied("this action needs the admin role");
      const target = rows.find((r) => r.userId === targetUserId);
      if (!target) throw errors.notFound("member not found");
      if (target.role === "owner" && me.role !== "owner")
        throw errors.permissionDenied("only owners can remove owners");
      await removeMember(tx, teamId, targetUserId);
      await deleteApiKeysCreatedBy(tx, teamId, targetUserId);
      return (await getUserById(tx, targetUserId))?.email ?? "";
    });
    await this.audit.memberRemoved(actorOf(auth), teamId, targetUserId, email);
  }

  /** Leaves a team; the last owner cannot leave. */
  async leave(auth: AuthContext, teamId: string): Promise<void> {
    const actorId = requireUser(auth);
    await this.db.transaction(async (tx) => {
      const rows = await lockMemberships(tx, teamId);
      const me = rows.find((r) => r.userId === actorId);
      if (!me || !(await getMembership(tx, actorId, teamId))) throw errors.notFound("team not found");
      if (me.role === "owner" && rows.filter((r) => r.role === "owner").length === 1) {
        throw errors.failedPrecondition(`${LAST_OWNER}: make someone else owner or delete the team`);
      }
      await removeMember(tx, teamId, actorId);
      await deleteApiKeysCreatedBy(tx, teamId, actorId);
    });
    await this.audit.memberLeft(actorOf(auth), teamId, actorId);
  }

  /** Platform admin: marks a team as BYOC. */
  async setByoc(auth: AuthContext, teamId: string, isByoc: boolean): Promise<Team> {
    if (!(await setTeamByoc(this.db, teamId, isByoc))) throw errors.notFound("team not found");
    await this.audit.teamByocSet(actorOf(auth), teamId, isByoc);
    const team = await getActiveTeam(this.db, teamId);
    if (!team) throw errors.notFound("team not found");
    return team;
  }
}
