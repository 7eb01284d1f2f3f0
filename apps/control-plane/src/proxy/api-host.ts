import type { IncomingMessage, RequestListener } from "node:http";

/** The prefix of Wrenn's E2B-compatible API. */
const E2B_PREFIX = "/e2b";

/**
 * True when `host` (a Host header, port allowed) is `api.{domain}`: the address the `e2b` SDK
 * given only `E2B_DOMAIN` sends its API calls to (`https://api.{domain}`, E2B's paths at the root).
 */
export function isE2bApiHost(host: string | undefined, domain: string | undefined): boolean {
  if (!host || !domain) return false;
  const name = host.trim().toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  return name === `api.${domain}`;
}

/**
 * Serves E2B's API paths at the root of `api.{domain}`: a request there is routed to `/e2b/…`
 * (a path already under `/e2b` is left alone), so `E2B_DOMAIN` alone configures the `e2b` SDK.
 * Every other host is passed through untouched; without a domain the listener is returned as is.
 */
export function withE2bApiHost(domain: string | undefined, listener: RequestListener): RequestListener {
  if (!domain) return listener;
  return (req, res) => {
    rewriteE2bApiHost(req, domain);
    listener(req, res);
  };
}

/** Rewrites `req.url` of a request to `api.{domain}` onto the `/e2b` prefix (see {@link withE2bApiHost}). */
export function rewriteE2bApiHost(req: IncomingMessage, domain: string | undefined): void {
  if (!isE2bApiHost(req.headers.host, domain)) return;
  const url = req.url ?? "/";
  if (url === E2B_PREFIX || url.startsWith(`${E2B_PREFIX}/`) || url.startsWith(`${E2B_PREFIX}?`)) return;
  req.url = `${E2B_PREFIX}${url.startsWith("/") ? url : `/${url}`}`;
}
