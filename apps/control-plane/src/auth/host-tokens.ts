import { createHash, randomBytes } from "node:crypto";
import { signToken, type TokenKind, verifyToken } from "./hs256.ts";

// A different audience and `typ` than user sessions: neither kind verifies as the other.
const HOST_TOKEN: TokenKind = {
  audience: "wrenn-host",
  typ: "host",
  expiredMessage: "host token expired",
  invalidMessage: "invalid host token",
};

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
    return signToken(this.#key, HOST_TOKEN, hostId, {}, this.ttlSec, now);
  }

  /** The host UUID of a valid host token; `unauthenticated` for anything else (user tokens included). */
  async verify(token: string): Promise<string> {
    return (await verifyToken(this.#key, HOST_TOKEN, token)).sub;
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
