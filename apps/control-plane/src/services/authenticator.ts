import { errors } from "@wrenn/common";
import { type Database, findApiKeyByHash, getUserById, touchApiKey } from "@wrenn/db";
import { canonicalApiKey, hashApiKey } from "../auth/api-keys.ts";
import type { SessionTokens } from "../auth/jwt.ts";
import type { AuthContext } from "./auth-context.ts";

// last_used_at is refreshed at most this often per key, so hot keys do not write on every request.
const TOUCH_INTERVAL_MS = 10_000;

/** The credentials of a request, as its headers carry them. */
export interface Credentials {
  /** The `Authorization` header (`Bearer <JWT>`). */
  authorization?: string | undefined;
  /** The `X-API-Key` header. */
  apiKey?: string | undefined;
}

/**
 * Turns a request's credentials into an {@link AuthContext}. Every call re-reads the credential's
 * subject from the database, so a deleted user or key stops working on its next request.
 */
export class Authenticator {
  // Key id → when this process last claimed a last_used_at write for it.
  private readonly lastTouch = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly tokens: SessionTokens,
  ) {}

  /**
   * A user session from a `Bearer` JWT. `hasApiKey` only words the error for a caller that sent
   * an API key to a session-only route.
   */
  async fromJwt(authorization: string | undefined, hasApiKey: boolean): Promise<AuthContext> {
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) {
      throw errors.unauthenticated(
        hasApiKey ? "this route needs a user session (Bearer token), not an API key" : undefined,
      );
    }
    const claims = await this.tokens.verify(match[1]);
    const user = await getUserById(this.db, claims.sub);
    if (!user) throw errors.unauthenticated("user no longer exists");
    // Password changes and logouts bump the version: every token issued before stops here.
    if (claims.sv !== user.sessionVersion) throw errors.unauthenticated("session revoked; sign in again");
    return {
      kind: "jwt",
      userId: user.id,
      teamId: claims.team,
      roleHint: claims.role,
      isAdmin: user.isAdmin,
      name: user.name,
      email: user.email,
      user,
    };
  }

  /** An API key's team context (either key form); records its use (throttled). */
  async fromApiKey(given: string): Promise<AuthContext> {
    const key = canonicalApiKey(given);
    if (!key) throw errors.unauthenticated("invalid API key");
    const found = await findApiKeyByHash(this.db, hashApiKey(key));
    if (!found) throw errors.unauthenticated("invalid API key");
    const row = found.key;
    const now = Date.now();
    const last = Math.max(row.lastUsedAt?.getTime() ?? 0, this.lastTouch.get(row.id) ?? 0);
    if (now - last > TOUCH_INTERVAL_MS) {
      // Claimed before the write so concurrent requests with the same key do not all update the row.
      this.lastTouch.set(row.id, now);
      if (this.lastTouch.size > 10_000) this.lastTouch.clear();
      await touchApiKey(this.db, row.id, new Date(now));
    }
    return {
      kind: "api_key",
      userId: row.createdBy,
      teamId: row.teamId,
      roleHint: null,
      isAdmin: false,
      name: row.name,
      email: "",
      apiKey: { id: row.id, name: row.name },
      team: found.team,
    };
  }

  /** API key when `X-API-Key` is present, else the Bearer JWT; `unauthenticated` otherwise. */
  authenticate(credentials: Credentials): Promise<AuthContext> {
    return credentials.apiKey === undefined
      ? this.fromJwt(credentials.authorization, false)
      : this.fromApiKey(credentials.apiKey);
  }

  /** Platform admins only; `is_admin` is read from the database now, never from the token. */
  async requireAdmin(auth: AuthContext): Promise<void> {
    const user = auth.userId ? await getUserById(this.db, auth.userId) : undefined;
    if (!user?.isAdmin) throw errors.permissionDenied("platform admin only");
  }
}
