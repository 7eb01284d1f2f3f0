import { createHash, randomBytes } from "node:crypto";

/** Every API key starts with this, so leaked keys are easy to recognise and scan for. */
export const API_KEY_PREFIX = "wrn_";

/**
 * The prefix of a key's E2B form: the same 32 secret bytes in lowercase hex, which the
 * official `e2b` SDK accepts (it checks `^e2b_[0-9a-f]+$` before sending a key).
 */
export const E2B_API_KEY_PREFIX = "e2b_";

const SECRET_BYTES = 32;
const E2B_FORM = new RegExp(`^${E2B_API_KEY_PREFIX}[0-9a-f]{${SECRET_BYTES * 2}}$`);

/** A new API key: 32 random bytes, base64url. Shown to the user once. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(SECRET_BYTES).toString("base64url")}`;
}

/** The E2B form (`e2b_<hex>`) of a `wrn_` key: the same secret, so it authenticates the same key. */
export function e2bFormOfApiKey(key: string): string {
  return `${E2B_API_KEY_PREFIX}${Buffer.from(key.slice(API_KEY_PREFIX.length), "base64url").toString("hex")}`;
}

/**
 * The `wrn_` form of a key given in either form, or undefined when it is in neither.
 * Both forms hash to the one stored hash, so nothing but the hash is ever kept.
 */
export function canonicalApiKey(key: string): string | undefined {
  if (key.startsWith(API_KEY_PREFIX)) return key;
  if (!E2B_FORM.test(key)) return undefined;
  const secret = Buffer.from(key.slice(E2B_API_KEY_PREFIX.length), "hex");
  return `${API_KEY_PREFIX}${secret.toString("base64url")}`;
}

/** The SHA-256 (hex) stored instead of the key. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The recognisable, non-secret start of a key shown in listings (`wrn_AbCd1234`). */
export function apiKeyDisplayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 8);
}
