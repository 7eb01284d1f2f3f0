import { errors } from "@wrenn/common";
import { tryParseId } from "../ids.ts";

/** The port of a sandbox a proxied request is addressed to. */
export interface ProxyAddress {
  /** Database UUID of the sandbox. */
  sandboxId: string;
  /** Wire id (`sb-<uuid>`), as the host agent names the sandbox. */
  wireId: string;
  port: number;
}

/** The request headers that can address the port proxy (lower-case names, as Node gives them). */
export interface ProxyAddressHeaders {
  host?: string | undefined;
  "e2b-sandbox-id"?: string | string[] | undefined;
  "e2b-sandbox-port"?: string | string[] | undefined;
}

/** The envd port inside every guest (the `e2b` SDK's `envdPort`). */
export const ENVD_PORT = 49983;

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw errors.invalidArgument(`${name} must be given once`);
    return value[0];
  }
  return value;
}

function parsePort(text: string, what: string): number {
  // Digits only: "+80", "8e3" or " 80" are not ports.
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw errors.invalidArgument(`${what} must be an integer from 1 to 65535`);
  }
  return port;
}

function sandboxOf(wire: string, port: number): ProxyAddress {
  const lower = wire.toLowerCase();
  const sandboxId = tryParseId("sandbox", lower);
  // A malformed id names no sandbox: the same answer as another team's sandbox.
  if (!sandboxId) throw errors.notFound("sandbox not found");
  return { sandboxId, wireId: lower, port };
}

/**
 * Decides whether a request is for the port proxy and which sandbox port it names:
 * the `E2b-Sandbox-Id` + `E2b-Sandbox-Port` headers (what the `e2b` SDK sends to
 * `E2B_SANDBOX_URL`), or a Host of the form `{port}-{sandboxId}.{domain}` when a
 * proxy domain is configured. Null when the request is for the API itself.
 * Throws `invalid_argument` for a bad port or a half-given header pair and
 * `not_found` for a malformed sandbox id.
 */
export function parseProxyAddress(
  headers: ProxyAddressHeaders,
  domain: string | undefined,
): ProxyAddress | null {
  const idHeader = single(headers["e2b-sandbox-id"], "E2b-Sandbox-Id");
  const portHeader = single(headers["e2b-sandbox-port"], "E2b-Sandbox-Port");
  if (idHeader !== undefined || portHeader !== undefined) {
    if (!idHeader) throw errors.invalidArgument("E2b-Sandbox-Id is required with E2b-Sandbox-Port");
    if (!portHeader) throw errors.invalidArgument("E2b-Sandbox-Port is required with E2b-Sandbox-Id");
    return sandboxOf(idHeader.trim(), parsePort(portHeader.trim(), "E2b-Sandbox-Port"));
  }
  if (!domain || !headers.host) return null;
  const host = stripPort(headers.host.trim().toLowerCase()).replace(/\.$/, "");
  const suffix = `.${domain}`;
  if (!host.endsWith(suffix)) return null;
  const label = host.slice(0, -suffix.length);
  // `{port}-sb-<uuid>`: the first dash ends the port; the sandbox id keeps its own dashes.
  const dash = label.indexOf("-");
  if (label.includes(".") || dash <= 0) return null;
  const wire = label.slice(dash + 1);
  if (!wire.startsWith("sb-")) return null;
  return sandboxOf(wire, parsePort(label.slice(0, dash), "the port in the host name"));
}

function stripPort(host: string): string {
  if (host.startsWith("[")) return host; // an IPv6 literal is never a proxy host name
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}
