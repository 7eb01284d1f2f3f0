import { FailedPreconditionError, InvalidArgumentError } from "../errors.ts";

/** What a signed `/files` URL lets its holder do. */
export type FileUrlOperation = "read" | "write";

/** Options of `files.downloadUrl` / `files.uploadUrl`. */
export interface FileUrlOptions {
  /** User the transfer runs as (owner of an upload, `~` and relative paths). Default: envd's default user. */
  user?: string | undefined;
  /** Seconds the URL stays valid; without it the URL never expires (until the sandbox is gone). */
  useSignatureExpiration?: number | undefined;
}

/** What a signed URL is built from. */
export interface FileUrlTarget {
  /** `http:` or `https:` (the control plane's scheme). */
  protocol: string;
  /** Host name reaching envd through the port proxy: `49983-{sandboxId}.{domain}`. */
  envdHost: string;
  /** The sandbox's envd access token, which the signature is keyed with. */
  accessToken: string | undefined;
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/**
 * envd's (and E2B's) `/files` signature: `v1_` + unpadded base64 of SHA-256 over
 * `path:operation:user:token`, with `:expiresAt` (Unix seconds) appended when it expires.
 * Web Crypto, so it works in browsers too.
 */
export async function fileSignature(
  path: string,
  operation: FileUrlOperation,
  user: string,
  accessToken: string,
  expiresAt?: number,
): Promise<string> {
  const raw = [path, operation, user, accessToken, ...(expiresAt === undefined ? [] : [String(expiresAt)])];
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(raw.join(":")));
  return `v1_${base64(new Uint8Array(digest)).replace(/=+$/, "")}`;
}

/**
 * A `/files` URL signed for one path, operation and user: it needs no header
 * (the port proxy routes it by its host name, envd checks the signature), so it
 * can be handed to a browser, `curl` or another service.
 */
export async function signedFileUrl(
  target: FileUrlTarget,
  path: string,
  operation: FileUrlOperation,
  options: FileUrlOptions,
  now: () => number = Date.now,
): Promise<string> {
  if (!target.accessToken) {
    throw new FailedPreconditionError(
      "signed file URLs need the sandbox's envd access token (create or connect to the sandbox first)",
    );
  }
  if (!path) throw new InvalidArgumentError("path: required for a signed file URL");
  const seconds = options.useSignatureExpiration;
  if (seconds !== undefined && (!Number.isSafeInteger(seconds) || seconds <= 0)) {
    throw new InvalidArgumentError(
      `useSignatureExpiration: must be a whole number of seconds > 0, got ${seconds}`,
    );
  }
  const user = options.user ?? "";
  const expiresAt = seconds === undefined ? undefined : Math.floor(now() / 1000) + seconds;
  const url = new URL(`${target.protocol}//${target.envdHost}/files`);
  url.searchParams.set("path", path);
  if (user) url.searchParams.set("username", user);
  url.searchParams.set(
    "signature",
    await fileSignature(path, operation, user, target.accessToken, expiresAt),
  );
  if (expiresAt !== undefined) url.searchParams.set("signature_expiration", String(expiresAt));
  return url.toString();
}
