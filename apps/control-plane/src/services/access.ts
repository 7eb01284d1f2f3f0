import { errors } from "@wrenn/common";
import { type Database, getActiveTeam, getMembership, type Team, type TeamRole } from "@wrenn/db";
import type { AuthContext } from "./auth-context.ts";

const rank: Record<TeamRole, number> = { member: 0, admin: 1, owner: 2 };

/** True when `role` is at least `min`. */
export function roleAtLeast(role: TeamRole, min: TeamRole): boolean {
  return rank[role] >= rank[min];
}

/** The caller's team and their role in it, as the database says now. */
export interface TeamAccess {
  team: Team;
  /** Null for API keys, which act for the team rather than as a member. */
  role: TeamRole | null;
}

/**
 * Re-checks the request's team against the database: an API key's team must be
 * active; a JWT's user must still be a member (the JWT's role is ignored).
 */
export async function currentTeamAccess(db: Database, auth: AuthContext): Promise<TeamAccess> {
  if (auth.kind === "api_key") {
    // The middleware already read the key's active team in this request.
    const team = auth.team ?? (await getActiveTeam(db, auth.teamId));
    if (!team) throw errors.unauthenticated("invalid API key");
    return { team, role: null };
  }
  if (!auth.userId) throw errors.unauthenticated();
  const m = await getMembership(db, auth.userId, auth.teamId);
  if (!m) throw errors.permissionDenied("you are no longer a member of this team; switch team");
  return { team: m.team, role: m.role };
}

/** Requires a user session (not an API key) and returns its user id. */
export function requireUser(auth: AuthContext): string {
  if (auth.kind !== "jwt" || !auth.userId) throw errors.permissionDenied("this action needs a user session");
  return auth.userId;
}
