import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIPv4 } from "node:net";
import { domainMatches, type EgressPolicy, errors, type Logger } from "@wrenn/common";
import type { SlotNetwork } from "./addresses.ts";
import { parseAddresses, parseQuestion, servfail } from "./dns-message.ts";
import {
  type AddressRule,
  appendPins,
  type CompiledEgress,
  compileEgress,
  DNS_PORT,
  dnsInputRule,
  listPins,
  namespaceScript,
  pinKey,
  restoreNamespace,
} from "./egress.ts";
import { applyRules, deleteRule, hasRule, type Iptables } from "./iptables.ts";

/** Where the egress filter sends the guests' DNS queries. */
export interface DnsUpstream {
  host: string;
  port: number;
}

/** Most addresses one sandbox may have pinned (each is a firewall rule). */
export const MAX_PINS = 4096;
const UPSTREAM_TIMEOUT_MS = 4000;

/**
 * The resolver the filter forwards to: `WRENN_EGRESS_DNS` (`ip` or `ip:port`), else the host's
 * first IPv4 `nameserver` in /etc/resolv.conf (the agent runs in the host's namespace, so a
 * local stub such as 127.0.0.53 works), else 8.8.8.8 — the guest's own default.
 */
export function defaultDnsUpstream(env: NodeJS.ProcessEnv = process.env): DnsUpstream {
  const configured = env.WRENN_EGRESS_DNS;
  if (configured) {
    const [host = "", port = "53"] = configured.split(":");
    if (!isIPv4(host) || !/^\d{1,5}$/.test(port)) {
      throw errors.invalidArgument("WRENN_EGRESS_DNS must be an IPv4 address, optionally :port");
    }
    return { host, port: Number(port) };
  }
  let resolv = "";
  try {
    resolv = readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    // No resolv.conf: fall back to the guest's default resolver.
  }
  const host = /^nameserver\s+(\S+)/m.exec(resolv)?.[1];
  return { host: host && isIPv4(host) ? host : "8.8.8.8", port: 53 };
}

/**
 * Enforces one sandbox's egress policy in its namespace ({@link namespaceScript}) and, when
 * domains are allowed, answers the guest's DNS: every query (redirected to this slot's veth
 * address) is forwarded to the upstream resolver, and the IPv4 addresses answered for a name
 * the allow list matches are pinned in the namespace before the guest sees the answer, so its
 * connection right after passes. Pins stay until the policy changes (addresses of names the
 * new policy still allows are kept) or the network goes.
 */
export class EgressFilter {
  private egress: CompiledEgress | undefined;
  private readonly pins = new Map<string, AddressRule>();
  private socket: Socket | undefined;
  private inputRule = false;
  /** iptables changes of this slot run one after another (a pin must not interleave a restore). */
  private queue: Promise<unknown> = Promise.resolve();
  private loadedPins = false;

  constructor(
    readonly slot: SlotNetwork,
    private readonly ipt: Iptables,
    private readonly upstream: DnsUpstream,
    private readonly log: Logger,
  ) {}

  /** Replaces the enforced policy (atomically in the namespace). */
  apply(policy: EgressPolicy): Promise<void> {
    const egress = compileEgress(policy);
    return this.serial(async () => {
      if (!this.loadedPins) {
        // After an agent restart the namespace still holds what the previous run pinned.
        for (const pin of await listPins(this.ipt, this.slot)) this.pins.set(pinKey(pin), pin);
        this.loadedPins = true;
      }
      for (const [key, pin] of this.pins) if (!this.stillAllowed(egress, pin)) this.pins.delete(key);
      await restoreNamespace(
        this.ipt,
        this.slot,
        namespaceScript(this.slot, egress, [...this.pins.values()]),
      );
      this.egress = egress;
      if (egress.domains.length > 0) await this.startDns();
      else await this.stopDns();
    });
  }

  /** Stops the DNS filter and removes its host rule (the namespace's rules go with the namespace). */
  close(): Promise<void> {
    return this.serial(() => this.stopDns());
  }

  /** Addresses currently pinned (tests, logs). */
  get pinned(): AddressRule[] {
    return [...this.pins.values()];
  }

  private stillAllowed(egress: CompiledEgress, pin: AddressRule): boolean {
    const names = this.pinNames.get(pinKey(pin));
    // Pins found in the namespace after a restart carry no name: kept while any domain is allowed.
    if (!names) return egress.domains.length > 0;
    return egress.domains.some(
      (d) => [...names].some((n) => domainMatches(d.pattern, n)) && samePorts(d.ports, pin.ports),
    );
  }

  private readonly pinNames = new Map<string, Set<string>>();

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async startDns(): Promise<void> {
    if (this.socket) return;
    const socket = createSocket({ type: "udp4", reuseAddr: true });
    socket.on("message", (msg, from) => {
      this.answer(socket, msg, from).catch((err: unknown) =>
        this.log.warn({ err, slot: this.slot.idx }, "egress DNS answer failed"),
      );
    });
    socket.on("error", (err) => this.log.warn({ err, slot: this.slot.idx }, "egress DNS socket error"));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: this.slot.vethIp, port: DNS_PORT }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    this.socket = socket;
    if (!this.inputRule) {
      // A previous agent run may have left it (a crash, or an upgrade leaving its VMs
      // running): a second copy would outlive the one stopDns deletes.
      const rule = dnsInputRule(this.slot);
      if (!(await hasRule(this.ipt, rule))) await applyRules(this.ipt, [rule], "-I");
      this.inputRule = true;
    }
  }

  private async stopDns(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (this.inputRule) {
      await deleteRule(this.ipt, dnsInputRule(this.slot));
      this.inputRule = false;
    }
  }

  /** Forwards one guest query upstream, pins what an allowed name resolved to, then answers. */
  private async answer(socket: Socket, query: Buffer, from: RemoteInfo): Promise<void> {
    if (query.length < 12) return;
    const question = parseQuestion(query);
    let reply = await this.forward(query);
    if (reply && question && this.egress) {
      const rules = this.egress.domains.filter((d) => domainMatches(d.pattern, question.name));
      const fresh: AddressRule[] = [];
      for (const { ip } of rules.length ? parseAddresses(reply) : []) {
        for (const rule of rules) {
          const pin = { cidr: `${ip}/32`, ports: rule.ports };
          const key = pinKey(pin);
          const names = this.pinNames.get(key) ?? new Set<string>();
          names.add(question.name);
          this.pinNames.set(key, names);
          if (!this.pins.has(key) && this.pins.size + fresh.length < MAX_PINS) fresh.push(pin);
        }
      }
      if (fresh.length > 0) {
        await this.serial(async () => {
          // The policy may have changed while the upstream answered: pin only what it still allows.
          const egress = this.egress;
          const allowed = egress ? fresh.filter((pin) => this.stillAllowed(egress, pin)) : [];
          await appendPins(this.ipt, this.slot, allowed);
          for (const pin of allowed) this.pins.set(pinKey(pin), pin);
        }).catch((err: unknown) => {
          this.log.warn({ err, slot: this.slot.idx }, "pinning resolved addresses failed");
          reply = servfail(query);
        });
      }
    }
    reply ??= servfail(query);
    if (reply && this.socket === socket) socket.send(reply, from.port, from.address);
  }

  private forward(query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const out = createSocket("udp4");
      const done = (reply: Buffer | undefined) => {
        clearTimeout(timer);
        out.close();
        resolve(reply);
      };
      const timer = setTimeout(() => done(undefined), UPSTREAM_TIMEOUT_MS);
      out.on("message", (msg) => {
        // Only the answer to this query (same id) counts.
        if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(msg);
      });
      out.on("error", () => done(undefined));
      out.send(query, this.upstream.port, this.upstream.host);
    });
  }
}

function samePorts(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return a?.[0] === b?.[0] && a?.[1] === b?.[1];
}
