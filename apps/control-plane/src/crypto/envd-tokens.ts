import { errors } from "@wrenn/common";
import { type Database, listSandboxEnvdTokens, replaceSandboxEnvdToken } from "@wrenn/db";
import type { SecretBox } from "./secret-box.ts";

// Marks a sealed token in `sandboxes.envd_access_token`; a value without it is a legacy plaintext token.
const SEALED_PREFIX = "sealed:";

/**
 * Keeps sandboxes' envd access tokens encrypted at rest with the platform's {@link SecretBox}
 * (`WRENN_ENCRYPTION_KEY`). The control plane must give the token back (connect, E2B's get) and
 * derive the port proxy's check from it, so it is encrypted rather than hashed. Each token is
 * bound to its sandbox id: a sealed token copied into another row does not open there.
 * Without a configured key, tokens are stored as they are (development only; `wrenn up` always
 * generates a key).
 */
export class EnvdTokenVault {
  constructor(private readonly box: SecretBox | undefined) {}

  /** The stored form of `token` for sandbox `sandboxId` (database UUID). */
  seal(sandboxId: string, token: string): string {
    if (!this.box) return token;
    return SEALED_PREFIX + this.box.seal(token, context(sandboxId)).toString("base64");
  }

  /** The token from its stored form; legacy plaintext values are returned unchanged. */
  open(sandboxId: string, stored: string | null): string | null {
    if (stored === null || !stored.startsWith(SEALED_PREFIX)) return stored;
    if (!this.box)
      throw errors.internal(
        "a sealed envd access token cannot be opened",
        new Error("an envd access token is encrypted but WRENN_ENCRYPTION_KEY is not set"),
      );
    return this.box
      .open(Buffer.from(stored.slice(SEALED_PREFIX.length), "base64"), context(sandboxId))
      .toString();
  }

  /** True when `stored` should be re-written: plaintext while a key is configured, or sealed with an old key. */
  needsSealing(stored: string): boolean {
    if (!this.box) return false;
    if (!stored.startsWith(SEALED_PREFIX)) return true;
    return this.box.isStale(Buffer.from(stored.slice(SEALED_PREFIX.length), "base64"));
  }
}

function context(sandboxId: string): string {
  return `sandbox:${sandboxId}:envd_access_token`;
}

/**
 * Re-writes every stored envd token that is plaintext (rows from before encryption) or sealed with
 * a previous key, under the current key. Run at start-up; safe to run from two processes at once
 * (each row is replaced only if unchanged). Returns how many rows were re-written.
 */
export async function resealEnvdTokens(db: Database, vault: EnvdTokenVault): Promise<number> {
  let count = 0;
  for (const row of await listSandboxEnvdTokens(db)) {
    if (!vault.needsSealing(row.envdAccessToken)) continue;
    const token = vault.open(row.id, row.envdAccessToken);
    if (token === null) continue;
    if (await replaceSandboxEnvdToken(db, row.id, row.envdAccessToken, vault.seal(row.id, token))) count++;
  }
  return count;
}
