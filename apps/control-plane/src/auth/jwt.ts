import { errors, type WrennError } from "@wrenn/common";
import type { TeamRole } from "@wrenn/db";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

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
}

const ISSUER = "wrenn";
const AUDIENCE = "wrenn-api";

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
  sign(claims: SessionClaims, now = Date.now()): Promise<string> {
    const { sub, ...rest } = claims;
    const iat = Math.floor(now / 1000);
    return new SignJWT({ ...rest, typ: "user" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSec)
      .sign(this.#key);
  }

  /** The claims of a valid token; throws `unauthenticated` for anything tampered, expired or foreign. */
  async verify(token: string): Promise<SessionClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["sub", "exp"],
      }));
    } catch (err) {
      throw invalid(err instanceof joseErrors.JWTExpired ? "session expired" : "invalid token");
    }
    const { sub, team, role, is_admin, name, email, typ } = payload;
    if (
      typ !== "user" ||
      typeof sub !== "string" ||
      typeof team !== "string" ||
      (role !== "owner" && role !== "admin" && role !== "member") ||
      typeof is_admin !== "boolean" ||
      typeof name !== "string" ||
      typeof email !== "string"
    ) {
      throw invalid("invalid token");
    }
    return { sub, team, role, is_admin, name, email };
  }
}

function invalid(message: string): WrennError {
  return errors.unauthenticated(message);
}
