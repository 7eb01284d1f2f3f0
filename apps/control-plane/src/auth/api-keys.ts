import { createHash, randomBytes } from "node:crypto";

/** Every API key starts with this, so leaked keys are easy to recognise and scan for. */
export const API_KEY_PREFIX = "wrn_";

/** A new API key: 32 random bytes, base64url. Shown to the user once. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
}

/** The SHA-256 (hex) stored instead of the key. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The recognisable, non-secret start of a key shown in listings (`wrn_AbCd1234`). */
export function apiKeyDisplayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 8);
}
