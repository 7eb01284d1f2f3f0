import {
  type EgressPolicy,
  type EgressRule,
  isOpenEgress,
  type PortRange,
  parseEgressList,
} from "@wrenn/common";
import { type SlotNetwork, TAP_NAME } from "./addresses.ts";
import { run } from "./exec.ts";
import type { Iptables, IptablesRule } from "./iptables.ts";
import { namespaceRules } from "./netns.ts";

/** The namespace chain holding the addresses DNS answered for allowed domains. */
export const PINNED_CHAIN = "WRENN-PINNED";
/** The port the guest's DNS queries are redirected to (on the slot's host-side veth address). */
export const DNS_PORT = 53;

/** A destination the guest may reach: a CIDR, optionally only on some ports. */
export interface AddressRule {
  cidr: string;
  ports?: PortRange | undefined;
}

/** A domain pattern of the allow list and the ports it is allowed on. */
export interface DomainRule {
  pattern: string;
  ports?: PortRange | undefined;
}

/** A policy turned into what the firewall and the DNS filter act on. */
export interface CompiledEgress {
  allow: AddressRule[];
  deny: AddressRule[];
  domains: DomainRule[];
  /** True when nothing is restricted: the namespace's filter table stays empty. */
  open: boolean;
}

function addressesOf(rules: EgressRule[]): AddressRule[] {
  // IPv6 entries match nothing: the guest has no IPv6 address or route.
  return rules.flatMap((r) => (r.kind === "cidr" ? [{ cidr: r.cidr, ports: r.ports }] : []));
}

/**
 * Compiles a stored (already checked) policy: `allowInternet: false` becomes a denied
 * `0.0.0.0/0`, as in E2B.
 */
export function compileEgress(policy: EgressPolicy): CompiledEgress {
  const allow = parseEgressList(policy.allowOut, "allow_out");
  const deny = addressesOf(parseEgressList(policy.denyOut, "deny_out"));
  if (!policy.allowInternet) deny.push({ cidr: "0.0.0.0/0" });
  return {
    allow: addressesOf(allow),
    deny,
    domains: allow.flatMap((r) => (r.kind === "domain" ? [{ pattern: r.pattern, ports: r.ports }] : [])),
    open: isOpenEgress(policy),
  };
}

/** `-p tcp --dport lo:hi` and `-p udp …` variants of a match, or the match alone without ports. */
function withPorts(match: string[], ports: PortRange | undefined): string[][] {
  if (!ports) return [match];
  const range = ports[0] === ports[1] ? `${ports[0]}` : `${ports[0]}:${ports[1]}`;
  return ["tcp", "udp"].map((proto) => [...match, "-p", proto, "-m", proto, "--dport", range]);
}

/** The `-A WRENN-PINNED …` lines letting the guest reach `pin` (an address DNS gave for an allowed name). */
export function pinLines(pin: AddressRule): string[] {
  return withPorts(["-d", pin.cidr], pin.ports).map((m) =>
    ["-A", PINNED_CHAIN, ...m, "-j", "ACCEPT"].join(" "),
  );
}

function ruleLine(rule: IptablesRule): string {
  return ["-A", rule.chain, ...rule.spec].join(" ");
}

/**
 * The complete nat and filter tables of slot `slot`'s namespace for `egress`, as one
 * `iptables-restore` input that replaces both atomically: the slot's address translation
 * (unchanged), the guest's DNS redirected to the agent's filter when domains are allowed, and
 * the FORWARD rules for traffic leaving the guest: replies first, then allowed CIDRs, addresses
 * DNS answered for allowed domains, denied CIDRs (rejected, so the guest fails fast); anything
 * else passes (E2B's order: an allow always beats a deny).
 */
export function namespaceScript(slot: SlotNetwork, egress: CompiledEgress, pinned: AddressRule[]): string {
  const dns = egress.domains.length > 0;
  const fromGuest = ["-i", TAP_NAME];
  const nat = namespaceRules(slot);
  const lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"];
  lines.push(":POSTROUTING ACCEPT [0:0]");
  if (dns) {
    lines.push(
      [
        "-A PREROUTING",
        ...fromGuest,
        "-p udp -m udp --dport 53 -j DNAT --to-destination",
        `${slot.vethIp}:${DNS_PORT}`,
      ].join(" "),
    );
  }
  lines.push(...nat.map(ruleLine), "COMMIT");
  lines.push("*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]");
  if (!egress.open) {
    lines.push(`:${PINNED_CHAIN} - [0:0]`);
    const forward = (match: string[], target: string) =>
      ["-A FORWARD", ...fromGuest, ...match, "-j", target].join(" ");
    lines.push(forward(["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"], "ACCEPT"));
    if (dns)
      lines.push(forward(["-d", `${slot.vethIp}/32`, "-p", "udp", "-m", "udp", "--dport", "53"], "ACCEPT"));
    for (const rule of egress.allow) {
      for (const m of withPorts(["-d", rule.cidr], rule.ports)) lines.push(forward(m, "ACCEPT"));
    }
    if (dns) lines.push(forward([], PINNED_CHAIN));
    for (const rule of egress.deny) {
      for (const m of withPorts(["-d", rule.cidr], rule.ports)) lines.push(forward(m, "REJECT"));
    }
    for (const pin of pinned) lines.push(...pinLines(pin));
  }
  lines.push("COMMIT");
  return `${lines.join("\n")}\n`;
}

/**
 * The host rule letting slot `slot`'s guest reach the agent's DNS filter on the veth address
 * (the host otherwise drops everything a sandbox sends to it). Tagged like the slot's other
 * rules, so the start-up cleanup removes it with them.
 */
export function dnsInputRule(slot: SlotNetwork): IptablesRule {
  return {
    table: "filter",
    chain: "INPUT",
    spec: [
      "-d",
      `${slot.vethIp}/32`,
      "-i",
      slot.vethName,
      "-p",
      "udp",
      "-m",
      "udp",
      "--dport",
      `${DNS_PORT}`,
      "-m",
      "comment",
      "--comment",
      slot.ruleComment,
      "-j",
      "ACCEPT",
    ],
  };
}

/** Replaces the namespace's nat and filter tables in one transaction. */
export async function restoreNamespace(ipt: Iptables, slot: SlotNetwork, script: string): Promise<void> {
  await run(["ip", "netns", "exec", slot.namespace, ipt.restoreCommand, "-w"], script);
}

/** Appends pinned addresses to the namespace's {@link PINNED_CHAIN} in one transaction. */
export async function appendPins(ipt: Iptables, slot: SlotNetwork, pins: AddressRule[]): Promise<void> {
  if (pins.length === 0) return;
  const script = ["*filter", ...pins.flatMap(pinLines), "COMMIT", ""].join("\n");
  await run(["ip", "netns", "exec", slot.namespace, ipt.restoreCommand, "-w", "--noflush"], script);
}

/** Pinned addresses already in the namespace (an agent restart keeps them): `iptables -S` parsed. */
export async function listPins(ipt: Iptables, slot: SlotNetwork): Promise<AddressRule[]> {
  const listing = await run([
    "ip",
    "netns",
    "exec",
    slot.namespace,
    ipt.command,
    "-w",
    "-S",
    PINNED_CHAIN,
  ]).catch(() => "");
  const pins = new Map<string, AddressRule>();
  for (const line of listing.split("\n")) {
    const cidr = /-d (\S+)/.exec(line)?.[1];
    if (!line.startsWith(`-A ${PINNED_CHAIN} `) || !cidr) continue;
    const range = /--dport (\d+)(?::(\d+))?/.exec(line);
    const ports: PortRange | undefined = range ? [Number(range[1]), Number(range[2] ?? range[1])] : undefined;
    pins.set(pinKey({ cidr, ports }), { cidr, ports });
  }
  return [...pins.values()];
}

/** Identity of a pin (address and ports). */
export function pinKey(pin: AddressRule): string {
  return pin.ports ? `${pin.cidr}:${pin.ports[0]}-${pin.ports[1]}` : pin.cidr;
}
