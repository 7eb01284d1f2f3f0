import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/** Raised when a key setting is malformed or a ciphertext cannot be opened (wrong key, tampered, wrong context). */
export class SecretBoxError extends Error {
  override readonly name = "SecretBoxError";
}

const VERSION = 1;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES;

/**
 * Parses one 32-byte key written as 64 hex characters or as base64 (what `openssl rand -hex 32`
 * and `openssl rand -base64 32` print).
 */
export function parseEncryptionKey(text: string): Buffer {
  const value = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(value) && key.toString("base64") !== value)) {
    throw new SecretBoxError("must be 32 bytes as 64 hex characters or base64 (openssl rand -hex 32)");
  }
  return key;
}

/** A new random key in the hex form {@link parseEncryptionKey} reads. */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString("hex");
}

function keyId(key: Buffer): Buffer {
  return createHash("sha256").update(key).digest().subarray(0, KEY_ID_BYTES);
}

/**
 * AES-256-GCM envelope for secrets at rest (channel configs, later other tokens). Each
 * ciphertext names the key that sealed it (a 4-byte fingerprint), so old keys can stay
 * configured for opening while everything new is sealed with the current one: that is how the
 * key is rotated. The `context` (e.g. `channel:<uuid>`) is authenticated, so a ciphertext copied
 * into another row does not open there.
 *
 * Layout: version(1) · key id(4) · IV(12) · tag(16) · ciphertext.
 */
export class SecretBox {
  readonly #current: { id: Buffer; key: Buffer };
  readonly #byId = new Map<string, Buffer>();

  /** `current` seals and opens; `previous` keys only open (rotation). */
  constructor(current: Buffer, previous: Buffer[] = []) {
    this.#current = { id: keyId(current), key: current };
    for (const key of [current, ...previous]) this.#byId.set(keyId(key).toString("hex"), key);
  }

  /** Builds a box from the `WRENN_ENCRYPTION_KEY` / `WRENN_ENCRYPTION_KEY_PREVIOUS` (comma-separated) values. */
  static fromSettings(current: string, previous = ""): SecretBox {
    const old = previous
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean)
      .map(parseEncryptionKey);
    return new SecretBox(parseEncryptionKey(current), old);
  }

  /** Encrypts `plaintext` bound to `context`. */
  seal(plaintext: string | Buffer, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), this.#current.id, iv, cipher.getAuthTag(), body]);
  }

  /** Decrypts a {@link seal} result; throws {@link SecretBoxError} when it cannot be authenticated. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < HEADER_BYTES || sealed[0] !== VERSION) {
      throw new SecretBoxError("not a sealed secret");
    }
    const id = sealed.subarray(1, 1 + KEY_ID_BYTES).toString("hex");
    const key = this.#byId.get(id);
    if (!key) throw new SecretBoxError(`sealed with an unknown key (id ${id}); is its key configured?`);
    const iv = sealed.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
    const tag = sealed.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError("sealed secret failed authentication (tampered, or another context)");
    }
  }

  /** Seals a JSON value. */
  sealJson(value: unknown, context: string): Buffer {
    return this.seal(JSON.stringify(value), context);
  }

  /** Opens a {@link sealJson} result. */
  openJson<T>(sealed: Buffer, context: string): T {
    return JSON.parse(this.open(sealed, context).toString("utf8")) as T;
  }

  /** True when `sealed` was sealed with an older key and should be re-sealed with the current one. */
  isStale(sealed: Buffer): boolean {
    return !sealed.subarray(1, 1 + KEY_ID_BYTES).equals(this.#current.id);
  }
}
