import { isIPv4, isIPv6 } from "node:net";
import { errors } from "./errors.ts";

/**
 * A sandbox's egress policy, E2B's `allow_internet_access` + `network: { allowOut, denyOut }`:
 * an allowed entry always wins over a denied one, a denied one blocks, anything else passes.
 * `allowInternet: false` is the same as denying `0.0.0.0/0`.
 */
export interface EgressPolicy {
  allowInternet: boolean;
  /** CIDRs, bare IPs or domain names (`example.com`, `*.example.com`), each optionally `:port` / `:lo-hi`. */
  allowOut: string[];
  /** CIDRs or bare IPs (optionally with ports); domains are refused, as by E2B. */
  denyOut: string[];
}

/** The policy of a sandbox nobody restricted: everything may leave. */
export const OPEN_EGRESS: Readonly<EgressPolicy> = Object.freeze({
  allowInternet: true,
  allowOut: [],
  denyOut: [],
});

/** Every IPv4 address: E2B's `ALL_TRAFFIC`. */
export const ALL_TRAFFIC = "0.0.0.0/0";

/** One parsed entry of an allow or deny list. */
export type EgressRule =
  | { kind: "cidr"; cidr: string; ports?: PortRange }
  /** IPv6 entries are accepted (E2B takes them) but match nothing: sandboxes have no IPv6 route. */
  | { kind: "ipv6"; host: string; ports?: PortRange }
  | { kind: "domain"; pattern: string; ports?: PortRange };

/** Inclusive destination port range. */
export type PortRange = readonly [number, number];

/** Most entries one list may hold (each becomes firewall rules in the sandbox's namespace). */
export const MAX_EGRESS_ENTRIES = 256;

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function isDomain(host: string): boolean {
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (host === "*") return true;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  // A name of digits only would be an IP address written wrong, not a domain.
  return labels.every((l) => LABEL.test(l)) && !/^[\d.]+$/.test(name);
}

function parsePorts(text: string, entry: string, field: string): PortRange | undefined {
  if (text === "") return undefined;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || lo < 1 || hi > 65_535 || lo > hi) {
    throw errors.invalidArgument(`${field}: invalid port in ${JSON.stringify(entry)} (1-65535 or lo-hi)`);
  }
  return [lo, hi];
}

/** `a.b.c.d` or `a.b.c.d/n` with the host bits cleared, or undefined when not IPv4. */
function ipv4Cidr(host: string): string | undefined {
  const [ip = "", prefixText, ...rest] = host.split("/");
  if (rest.length > 0 || !isIPv4(ip)) return undefined;
  if (prefixText !== undefined && !/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix > 32) return undefined;
  const value = ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - prefix);
  const base = value - (value % size);
  const dotted = [base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join(".");
  return `${dotted}/${prefix}`;
}

/**
 * Parses one list entry (E2B's format: `host`, `host:port`, `host:lo-hi`, `[v6]:port`).
 * `field` names the list in the `invalid_argument` error a bad entry gets.
 */
export function parseEgressEntry(entry: string, field: string): EgressRule {
  const text = entry.trim().toLowerCase();
  if (text === "") throw errors.invalidArgument(`${field}: empty entry`);
  let host = text;
  let portText = "";
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (close < 0 || (rest !== "" && !rest.startsWith(":"))) {
      throw errors.invalidArgument(`${field}: invalid entry ${JSON.stringify(entry)}`);
    }
    portText = rest.slice(1);
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host = "", portText = ""] = text.split(":");
  }
  const ports = parsePorts(portText, entry, field);
  const withPorts = ports ? { ports } : {};
  const cidr = ipv4Cidr(host);
  if (cidr) return { kind: "cidr", cidr, ...withPorts };
  const [v6 = "", v6Prefix] = host.split("/");
  if (isIPv6(v6) && (v6Prefix === undefined || (/^\d{1,3}$/.test(v6Prefix) && Number(v6Prefix) <= 128))) {
    return { kind: "ipv6", host, ...withPorts };
  }
  if (/^[\d./]+$/.test(host) || host.includes("/")) {
    throw errors.invalidArgument(`${field}: invalid CIDR or IP address ${JSON.stringify(entry)}`);
  }
  if (!isDomain(host)) throw errors.invalidArgument(`${field}: invalid domain name ${JSON.stringify(entry)}`);
  return { kind: "domain", pattern: host.replace(/\.$/, ""), ...withPorts };
}

/** Parses a list, naming `field` in errors; entries must be strings. */
export function parseEgressList(entries: readonly string[], field: string): EgressRule[] {
  if (entries.length > MAX_EGRESS_ENTRIES) {
    throw errors.invalidArgument(`${field}: at most ${MAX_EGRESS_ENTRIES} entries`);
  }
  return entries.map((entry) => parseEgressEntry(entry, field));
}

/** The lists in canonical form: trimmed, lower-case, duplicates dropped. */
function canonical(entries: readonly string[]): string[] {
  return [...new Set(entries.map((e) => e.trim().toLowerCase()))];
}

/**
 * Checks a policy at the API boundary and returns it in canonical form. Rules (E2B's):
 * every entry parses; deny lists hold no domains; a domain in `allowOut` needs everything
 * else denied (`0.0.0.0/0` in `denyOut`, or `allowInternet: false`), since with everything
 * allowed by default a domain allow would change nothing. `fields` names the lists in errors
 * (`network.allowOut` on /e2b, `allow_out` on /v1).
 */
export function checkEgressPolicy(
  policy: EgressPolicy,
  fields: { allowOut: string; denyOut: string } = { allowOut: "allow_out", denyOut: "deny_out" },
): EgressPolicy {
  const allow = parseEgressList(policy.allowOut, fields.allowOut);
  const deny = parseEgressList(policy.denyOut, fields.denyOut);
  const denied = deny.find((rule) => rule.kind === "domain");
  if (denied) {
    throw errors.invalidArgument(
      `${fields.denyOut}: domain names are not supported for denied entries (${(denied as { pattern: string }).pattern}); use CIDRs or IP addresses`,
    );
  }
  const blocksAll =
    !policy.allowInternet ||
    deny.some((rule) => rule.kind === "cidr" && rule.cidr === ALL_TRAFFIC && !rule.ports);
  if (allow.some((rule) => rule.kind === "domain") && !blocksAll) {
    throw errors.invalidArgument(
      `${fields.allowOut}: allowing domains needs all other traffic denied: add '${ALL_TRAFFIC}' to ${fields.denyOut} (or disallow internet access)`,
    );
  }
  return {
    allowInternet: policy.allowInternet,
    allowOut: canonical(policy.allowOut),
    denyOut: canonical(policy.denyOut),
  };
}

/** True when the policy lets everything out (no rules need installing). */
export function isOpenEgress(policy: EgressPolicy): boolean {
  return policy.allowInternet && policy.allowOut.length === 0 && policy.denyOut.length === 0;
}

/**
 * True when DNS name `name` matches `pattern`: equal (case-insensitive, trailing dot ignored),
 * `*` (any name), or `*.suffix` (subdomains of `suffix` at any depth, never `suffix` itself).
 */
export function domainMatches(pattern: string, name: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, "");
  const p = pattern.toLowerCase();
  if (p === "*") return true;
  if (p.startsWith("*.")) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
  return host === p;
}
