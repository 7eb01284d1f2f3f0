import { errors } from "@wrenn/common";
import {
  addMember,
  bumpSessionVersion,
  changeUserPassword,
  createTeam,
  createUser,
  type Database,
  type Executor,
  findOAuthUserId,
  getLoginTeam,
  getMembership,
  getUserByEmail,
  getUserById,
  isUniqueViolation,
  linkOAuthIdentity,
  type Team,
  type TeamRole,
  type User,
} from "@wrenn/db";
import type { SessionTokens } from "../auth/jwt.ts";
import type { LoginThrottle } from "../auth/login-throttle.ts";
import { checkPasswordPolicy } from "../auth/password-policy.ts";
import { hashPassword, verifyPassword } from "../auth/passwords.ts";
import type { RateLimiter } from "../auth/rate-limit.ts";
import { formatId } from "../ids.ts";
import type { OAuthProfile } from "../oauth/provider.ts";
import type { Actor } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";

/** A signed-in session: the token plus who and where it is for. */
export interface Session {
  token: string;
  user: User;
  team: Team;
  role: TeamRole;
}

/** Signup, login (password and OAuth), team switching. */
export class AuthService {
  constructor(
    private readonly db: Database,
    private readonly tokens: SessionTokens,
    private readonly audit: AuditLogger,
    private readonly limiter: RateLimiter,
    private readonly limits: { perIp: number; perAccount: number },
    private readonly throttle: LoginThrottle,
  ) {}

  private async limit(kind: "signup", ip: string, email: string): Promise<void> {
    await this.limiter.hit(kind, [
      [`ip:${ip}`, this.limits.perIp],
      [`acct:${email}`, this.limits.perAccount],
    ]);
  }

  /** Creates the user and their default team in one transaction and signs them in. */
  async signup(input: { name: string; email: string; password: string }, ip: string): Promise<Session> {
    const email = normalizeEmail(input.email);
    checkPasswordPolicy(input.password);
    await this.limit("signup", ip, email);
    const passwordHash = await hashPassword(input.password);
    let created: { user: User; team: Team };
    try {
      created = await this.db.transaction((tx) =>
        createUserWithTeam(tx, { name: input.name, email, passwordHash, isAdmin: false }),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw errors.alreadyExists("an account with this email already exists");
      throw err;
    }
    const session = await this.issue(created.user, created.team, "owner");
    await this.audit.userSignedUp(userActor(created.user), created.team.id, created.user.id, "password");
    return session;
  }

  /** Checks email and password (argon2id) and signs in to the default (or first active) team. */
  async login(input: { email: string; password: string }, ip: string): Promise<Session> {
    const email = normalizeEmail(input.email);
    await this.throttle.check(email, ip);
    const user = await getUserByEmail(this.db, email);
    const ok = await verifyPassword(user?.passwordHash ?? null, input.password);
    if (!user || !ok) {
      await this.throttle.failed(email, ip);
      throw errors.unauthenticated("invalid email or password");
    }
    await this.throttle.succeeded(email, ip);
    const session = await this.sessionForUser(user);
    await this.audit.userLoggedIn(userActor(user), session.team.id, user.id, "password");
    return session;
  }

  /** Re-issues the token for another team after checking the membership in the database. */
  async switchTeam(auth: AuthContext, teamId: string): Promise<Session> {
    if (auth.kind !== "jwt" || !auth.userId)
      throw errors.permissionDenied("switching teams needs a user session");
    const user = await getUserById(this.db, auth.userId);
    if (!user) throw errors.unauthenticated("user no longer exists");
    const m = await getMembership(this.db, user.id, teamId);
    if (!m) throw errors.notFound("team not found");
    return this.issue(user, m.team, m.role);
  }

  /** Ends the caller's sessions: every session token of the user stops working (sign out everywhere). */
  async logout(auth: AuthContext): Promise<void> {
    if (auth.kind !== "jwt" || !auth.userId)
      throw errors.permissionDenied("logging out needs a user session");
    await bumpSessionVersion(this.db, auth.userId);
  }

  /**
   * Changes the caller's password after checking the current one (a user who signed up through
   * OAuth and has none may set one). Every other session is revoked; the answer is a fresh session
   * in the caller's current team.
   */
  async changePassword(
    auth: AuthContext,
    input: { currentPassword: string | undefined; newPassword: string },
    ip: string,
  ): Promise<Session> {
    if (auth.kind !== "jwt" || !auth.userId || !auth.teamId)
      throw errors.permissionDenied("changing the password needs a user session");
    checkPasswordPolicy(input.newPassword, "new_password");
    const user = await getUserById(this.db, auth.userId);
    if (!user) throw errors.unauthenticated("user no longer exists");
    if (user.passwordHash !== null) {
      // Guessing the current password through this route is throttled like logins are.
      await this.throttle.check(user.email, ip);
      if (!(await verifyPassword(user.passwordHash, input.currentPassword ?? ""))) {
        await this.throttle.failed(user.email, ip);
        throw errors.permissionDenied("the current password is wrong");
      }
    }
    const updated = await changeUserPassword(this.db, user.id, await hashPassword(input.newPassword));
    if (!updated) throw errors.unauthenticated("user no longer exists");
    const m = await getMembership(this.db, user.id, auth.teamId);
    return m ? this.issue(updated, m.team, m.role) : this.sessionForUser(updated);
  }

  /**
   * Signs in through an OAuth identity: an existing link logs in; else an
   * existing account with the same (verified) email is linked; else a user and
   * team are created atomically. A concurrent registration of the same identity
   * (unique violation) is treated as a login.
   */
  async oauthLogin(provider: string, profile: OAuthProfile): Promise<Session> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const linked = await findOAuthUserId(this.db, provider, profile.providerUserId);
      if (linked) {
        const user = await getUserById(this.db, linked);
        if (!user) throw errors.internal("OAuth identity points to a missing user");
        const session = await this.sessionForUser(user);
        await this.audit.userLoggedIn(userActor(user), session.team.id, user.id, "oauth");
        return session;
      }
      try {
        const result = await this.db.transaction(async (tx) => {
          const existing = await getUserByEmail(tx, profile.email);
          if (existing) {
            await linkOAuthIdentity(tx, {
              provider,
              providerUserId: profile.providerUserId,
              email: profile.email,
              userId: existing.id,
            });
            return { user: existing, created: undefined };
          }
          const created = await createUserWithTeam(tx, {
            name: profile.name,
            email: normalizeEmail(profile.email),
            passwordHash: null,
            isAdmin: false,
          });
          await linkOAuthIdentity(tx, {
            provider,
            providerUserId: profile.providerUserId,
            email: profile.email,
            userId: created.user.id,
          });
          return { user: created.user, created: created.team };
        });
        if (result.created) {
          const session = await this.issue(result.user, result.created, "owner");
          await this.audit.userSignedUp(userActor(result.user), result.created.id, result.user.id, "oauth");
          return session;
        }
        const session = await this.sessionForUser(result.user);
        await this.audit.userLoggedIn(userActor(result.user), session.team.id, result.user.id, "oauth");
        return session;
      } catch (err) {
        // Someone registered the same identity or email between our read and write: log in instead.
        if (!isUniqueViolation(err) || attempt > 0) throw err;
      }
    }
    throw errors.internal("OAuth login did not converge");
  }

  /** A session in the user's login team; a user left without any active team gets a fresh one. */
  private async sessionForUser(user: User): Promise<Session> {
    const m = await getLoginTeam(this.db, user.id);
    if (m) return this.issue(user, m.team, m.role);
    const team = await this.db.transaction(async (tx) => {
      const t = await createTeam(tx, { name: defaultTeamName(user.name, user.email) });
      await addMember(tx, { teamId: t.id, userId: user.id, role: "owner", isDefault: true });
      return t;
    });
    await this.audit.teamCreated(userActor(user), team.id, team.name);
    return this.issue(user, team, "owner");
  }

  private async issue(user: User, team: Team, role: TeamRole): Promise<Session> {
    const token = await this.tokens.sign({
      sub: user.id,
      team: team.id,
      role,
      is_admin: user.isAdmin,
      name: user.name,
      email: user.email,
      sv: user.sessionVersion,
    });
    return { token, user, team, role };
  }
}

/** Creates a user, their default team and the owner membership (call inside a transaction). */
export async function createUserWithTeam(
  tx: Executor,
  input: { name: string; email: string; passwordHash: string | null; isAdmin: boolean },
): Promise<{ user: User; team: Team }> {
  const user = await createUser(tx, input);
  const team = await createTeam(tx, { name: defaultTeamName(input.name, input.email) });
  await addMember(tx, { teamId: team.id, userId: user.id, role: "owner", isDefault: true });
  return { user, team };
}

function defaultTeamName(name: string, email: string): string {
  return `${name.trim() || email.split("@")[0] || "My"}'s team`;
}

/** Emails are stored trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function userActor(user: User): Actor {
  return { type: "user", id: formatId("user", user.id), name: user.name || user.email };
}
