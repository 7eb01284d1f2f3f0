import { errors } from "@wrenn/common";

/** The prefix under which the agent serves the port proxy. */
export const PROXY_PATH_PREFIX = "/proxy/";

/** A parsed `/proxy/{sandboxId}/{port}/{rest…}` request target. */
export interface ProxyRoute {
  sandboxId: string;
  port: number;
  /** Path and query forwarded to the guest, always starting with `/` (byte-for-byte as received). */
  upstreamPath: string;
}

const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** True when `url` is addressed to the port proxy. */
export function isProxyPath(url: string | undefined): boolean {
  return url?.startsWith(PROXY_PATH_PREFIX) ?? false;
}

/**
 * Parses a proxy request target. Throws `invalid_argument` for a malformed sandbox id or a
 * port that is not an integer in 1–65535.
 */
export function parseProxyRoute(url: string): ProxyRoute {
  if (!isProxyPath(url)) throw errors.invalidArgument("expected /proxy/{sandboxId}/{port}/...");
  const rest = url.slice(PROXY_PATH_PREFIX.length);
  const match = /^([^/?#]*)\/([^/?#]*)(.*)$/s.exec(rest);
  const sandboxId = match?.[1] ?? "";
  const portText = match?.[2] ?? "";
  if (!SANDBOX_ID.test(sandboxId)) throw errors.invalidArgument("invalid sandbox id");
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw errors.invalidArgument("port must be an integer between 1 and 65535");
  }
  const tail = match?.[3] ?? "";
  const upstreamPath = tail.startsWith("/") ? tail : `/${tail}`;
  return { sandboxId, port, upstreamPath };
}
