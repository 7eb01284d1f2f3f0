/**
 * The browser URL of a sandbox port through the control plane's port proxy:
 * `{port}-{sandboxId}.{domain}` on the dashboard's own scheme and port. The proxy domain is the
 * host the dashboard is served from (`wrenn up` serves both on `localhost`; a deployment sets
 * WRENN_PROXY_DOMAIN to the dashboard's domain) — an IP address cannot carry sub-domains, so it
 * falls back to `localhost`, which browsers resolve for every sub-domain.
 */
export function portUrl(
  port: number,
  sandboxId: string,
  loc: { protocol: string; hostname: string; port: string },
): string {
  const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(loc.hostname) || loc.hostname.includes(":");
  const domain = isIp ? "localhost" : loc.hostname;
  return `${loc.protocol}//${port}-${sandboxId}.${domain}${loc.port ? `:${loc.port}` : ""}/`;
}

/** True for a TCP port a sandbox can expose through the proxy (1–65535). */
export function isValidPort(value: string): boolean {
  if (!/^\d{1,5}$/.test(value)) return false;
  const n = Number(value);
  return n >= 1 && n <= 65535;
}

/** The query parameter the port proxy trades for its session cookie (the API's `param`). */
export const PORT_TICKET_PARAM = "wrenn_port_ticket";

/**
 * The address to open in a new tab: `url` with a single-use port ticket, which the port proxy
 * trades for a session cookie of that port's host before redirecting to `url` itself.
 */
export function ticketUrl(url: string, ticket: string, param = PORT_TICKET_PARAM): string {
  const u = new URL(url);
  u.searchParams.set(param, ticket);
  return u.toString();
}
