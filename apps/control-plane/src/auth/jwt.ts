import { errors } from "@wrenn/common";
import type { TeamRole } from "@wrenn/db";
import { signToken, type TokenKind, verifyToken } from "./hs256.ts";

/** The claims of a user session token. `role` and `is_admin` are hints; the database decides. */
export interface SessionClaims {
  /** User UUID. */
  sub: string;
  /** Team UUID the session acts in. */
  team: string;
  role: TeamRole;
  is_admin: boolean;
  name: string;
  email: string;
  /** The user's session version when issued; a token older than the user's current one is revoked. */
  sv: number;
}

const SESSION_TOKEN: TokenKind = {
  audience: "wrenn-api",
  typ: "user",
  expiredMessage: "session expired",
  invalidMessage: "invalid token",
};

/** Signs and verifies HS256 session tokens. */
export class SessionTokens {
  readonly #key: Uint8Array;
  constructor(
    secret: string,
    readonly ttlSec: number,
  ) {
    this.#key = new TextEncoder().encode(secret);
  }

  /** A signed token for `claims`, expiring after the configured TTL. */
  sign(claims: Omit<SessionClaims, "sv"> & { sv?: number }, now = Date.now()): Promise<string> {
    const { sub, ...rest } = claims;
    return signToken(this.#key, SESSION_TOKEN, sub, { ...rest, sv: rest.sv ?? 0 }, this.ttlSec, now);
  }

  /** The claims of a valid token; throws `unauthenticated` for anything tampered, expired or foreign. */
  async verify(token: string): Promise<SessionClaims> {
    const { sub, team, role, is_admin, name, email, sv } = await verifyToken(this.#key, SESSION_TOKEN, token);
    if (
      (sv !== undefined && !Number.isSafeInteger(sv)) ||
      typeof team !== "string" ||
      (role !== "owner" && role !== "admin" && role !== "member") ||
      typeof is_admin !== "boolean" ||
      typeof name !== "string" ||
      typeof email !== "string"
    ) {
      throw errors.unauthenticated(SESSION_TOKEN.invalidMessage);
    }
    return { sub, team, role, is_admin, name, email, sv: (sv as number | undefined) ?? 0 };
  }
}
