import { errors } from "@wrenn/common";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

/** Issuer of every token the control plane signs. */
export const TOKEN_ISSUER = "wrenn";

/** What distinguishes one kind of token from another: neither kind verifies as the other. */
export interface TokenKind {
  /** `aud` claim. */
  audience: string;
  /** `typ` claim. */
  typ: string;
  /** Client-facing messages for an expired and for any other invalid token. */
  expiredMessage: string;
  invalidMessage: string;
}

/** Signs an HS256 JWT of `kind` for `subject` with extra `claims`, valid `ttlSec` from `now`. */
export function signToken(
  key: Uint8Array,
  kind: TokenKind,
  subject: string,
  claims: Record<string, unknown>,
  ttlSec: number,
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ ...claims, typ: kind.typ })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(kind.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSec)
    .sign(key);
}

/**
 * Verifies an HS256 JWT of `kind` (signature, issuer, audience, expiry, `typ`) and returns
 * its payload; throws `unauthenticated` with the kind's message otherwise.
 */
export async function verifyToken(
  key: Uint8Array,
  kind: TokenKind,
  token: string,
): Promise<Record<string, unknown> & { sub: string }> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: kind.audience,
      requiredClaims: ["sub", "exp"],
    }));
  } catch (err) {
    throw errors.unauthenticated(
      err instanceof joseErrors.JWTExpired ? kind.expiredMessage : kind.invalidMessage,
    );
  }
  if (payload.typ !== kind.typ || typeof payload.sub !== "string") {
    throw errors.unauthenticated(kind.invalidMessage);
  }
  return payload as Record<string, unknown> & { sub: string };
}
