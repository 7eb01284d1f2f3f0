import { createHash, timingSafeEqual } from "node:crypto";
import { errors } from "@wrenn/common";
import type { EnvdState } from "./state.ts";

/** The header that carries the access token `/init` set. */
export const ACCESS_TOKEN_HEADER = "x-access-token";

function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** True when no token is configured yet, or `given` equals the configured one. */
export function hasValidAccessToken(state: EnvdState, given: string | undefined): boolean {
  if (state.accessToken === undefined) return true;
  return given !== undefined && sameSecret(given, state.accessToken);
}

/** Throws `unauthenticated` unless {@link hasValidAccessToken}. */
export function requireAccessToken(state: EnvdState, given: string | undefined): void {
  if (!hasValidAccessToken(state, given)) {
    throw errors.unauthenticated(given === undefined ? "access token required" : "invalid access token");
  }
}

/**
 * The user named by `Authorization: Basic base64(user:)` (the E2B SDK's way to
 * choose who runs a command), or undefined when the header is absent.
 */
export function usernameFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match?.[1]) throw errors.invalidArgument("malformed Authorization header");
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const user = decoded.split(":")[0] ?? "";
  return user === "" ? undefined : user;
}

/** The two operations a signed `/files` URL can allow. */
export type FileOperation = "read" | "write";

/**
 * The signature of a `/files` URL, as the E2B SDK computes it:
 * `v1_` + unpadded base64 of SHA-256 over `path:operation:user:token[:expiry]`.
 */
export function fileSignature(
  path: string,
  operation: FileOperation,
  user: string,
  accessToken: string,
  expiresAt?: number,
): string {
  const raw = [
    path,
    operation,
    user,
    accessToken,
    ...(expiresAt === undefined ? [] : [String(expiresAt)]),
  ].join(":");
  return `v1_${createHash("sha256").update(raw).digest("base64").replace(/=+$/, "")}`;
}

/** What a `/files` request presents to prove it may act. */
export interface FileAccessProof {
  accessToken: string | undefined;
  signature: string | undefined;
  signatureExpiration: string | undefined;
  /** The `path` query parameter exactly as sent (signatures cover the raw value). */
  path: string;
  /** The `username` query parameter exactly as sent, or "" when absent. */
  username: string;
}

/**
 * Allows a `/files` request that carries the access token or a valid,
 * unexpired signature for this path, operation and user.
 */
export function requireFileAccess(state: EnvdState, operation: FileOperation, proof: FileAccessProof): void {
  if (state.accessToken === undefined) return;
  if (proof.accessToken !== undefined) {
    requireAccessToken(state, proof.accessToken);
    return;
  }
  if (proof.signature === undefined) throw errors.unauthenticated("access token or signature required");
  let expiresAt: number | undefined;
  if (proof.signatureExpiration !== undefined) {
    expiresAt = Number(proof.signatureExpiration);
    if (!Number.isSafeInteger(expiresAt)) throw errors.unauthenticated("invalid signature expiration");
    if (expiresAt < Math.floor(Date.now() / 1000)) throw errors.unauthenticated("signature expired");
  }
  const expected = fileSignature(proof.path, operation, proof.username, state.accessToken, expiresAt);
  if (!sameSecret(proof.signature, expected)) throw errors.unauthenticated("invalid signature");
}
