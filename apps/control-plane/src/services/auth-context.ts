import type { Team, TeamRole, User } from "@wrenn/db";

/**
 * Who is calling, as established by the auth middleware. It lives in the service layer because every
 * service authorises against it; the HTTP layer only fills it in.
 */
export interface AuthContext {
  kind: "jwt" | "api_key";
  /** The signed-in user; for an API key, the user who created it (null once that user is gone). */
  userId: string | null;
  /** The team the request acts in (JWT `team` claim, or the API key's team). */
  teamId: string;
  /** The role claimed by the JWT. A hint only: services re-check the database. */
  roleHint: TeamRole | null;
  /** Platform admin, read from the database on every request. */
  isAdmin: boolean;
  /** Display name of the actor (user name, or API key name). */
  name: string;
  email: string;
  apiKey?: { id: string; name: string };
  /** The user row read by the middleware in this request (JWT only). */
  user?: User;
  /** The active team row read by the middleware in this request (API key only). */
  team?: Team;
}
