import { createHash, randomBytes } from "node:crypto";
import { errors } from "@wrenn/common";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

const ISSUER = "wrenn";
// A different audience and `typ` than user sessions: neither kind verifies as the other.
const AUDIENCE = "wrenn-host";

/** Lifetime of a host JWT. */
export const HOST_JWT_TTL_SEC = 7 * 24 * 3600;
/** Lifetime of a host refresh token. */
export const HOST_REFRESH_TTL_SEC = 60 * 24 * 3600;
/** Lifetime of a one-time registration token. */
export const HOST_REGISTRATION_TTL_SEC = 3600;

const REGISTRATION_PREFIX = "wrh_";
const REFRESH_PREFIX = "wrr_";

/** Signs and verifies host JWTs (`typ: host`, subject = host UUID). */
export class HostTokens {
  readonly #key: Uint8Array;
  constructor(
    secret: string,
    readonly ttlSec = HOST_JWT_TTL_SEC,
  ) {
    this.#key = new TextEncoder().encode(secret);
  }

  /** A signed host token for `hostId`. */
  sign(hostId: string, now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000);
    return new SignJWT({ typ: "host" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(hostId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlSec)
      .sign(this.#key);
  }

  /** The host UUID of a valid host token; `unauthenticated` for anything else (user tokens included). */
  async verify(token: string): Promise<string> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["sub", "exp"],
      }));
    } catch (err) {
      throw errors.unauthenticated(
        err instanceof joseErrors.JWTExpired ? "host token expired" : "invalid host token",
      );
    }
    if (payload.typ !== "host" || typeof payload.sub !== "string")
      throw errors.unauthenticated("invalid host token");
    return payload.sub;
  }
}

/** A new one-time registration token (`wrh_` + 32 random bytes, base64url). */
export function generateRegistrationToken(): string {
  return REGISTRATION_PREFIX + randomBytes(32).toString("base64url");
}

/** A new refresh token (`wrr_` + 32 random bytes, base64url). */
export function generateRefreshToken(): string {
  return REFRESH_PREFIX + randomBytes(32).toString("base64url");
}

/** SHA-256 hex of a secret token: what is stored and looked up (tokens are random, so no salt is needed). */
export function hashSecretToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
