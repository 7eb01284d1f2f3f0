import { NAME_PREFIX } from "./addresses.ts";
import { run } from "./exec.ts";
import { defaultIptables, deleteRule, type Iptables, iptablesFor, listTaggedRules } from "./iptables.ts";

/** What {@link cleanupStaleNetworks} removed, and what it could not. */
export interface CleanupReport {
  namespaces: string[];
  links: string[];
  rules: number;
  failures: string[];
}

/** Options for {@link cleanupStaleNetworks}. */
export interface CleanupOptions {
  /**
   * Only slots for which this returns true are touched (default: every slot). The agent at
   * start-up cleans everything; tests restrict it to their own slot range.
   */
  match?: (idx: number) => boolean;
  /** The backend in use; rules of the other backend, if installed, are removed too. */
  iptables?: Iptables;
}

const NAMESPACE = new RegExp(`^${NAME_PREFIX}ns-(\\d+)$`);
const HOST_LINK = new RegExp(`^${NAME_PREFIX}veth-(\\d+)$`);

/**
 * Removes every `wrenn-ns-{idx}` namespace, `wrenn-veth-{idx}` link (and with it its address
 * and route) and `wrenn-{idx}`-tagged iptables rule in the host namespace, in both the nft and
 * the legacy backend — what a crashed agent left behind. Rules inside a namespace go with it.
 * Never throws for a single leftover; failures are listed in the report.
 */
export async function cleanupStaleNetworks(options: CleanupOptions = {}): Promise<CleanupReport> {
  const match = options.match ?? (() => true);
  const report: CleanupReport = { namespaces: [], links: [], rules: 0, failures: [] };
  const note = (what: string, err: unknown) =>
    report.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);

  const primary = options.iptables ?? (await defaultIptables());
  const backends = [primary, iptablesFor(primary.backend === "nft" ? "legacy" : "nft")].filter(
    (ipt): ipt is Iptables => ipt !== undefined,
  );
  for (const ipt of backends) {
    const rules = await listTaggedRules(ipt).catch((err: unknown) => {
      note(`list ${ipt.backend} rules`, err);
      return [];
    });
    for (const rule of rules.filter((r) => match(r.idx))) {
      await deleteRule(ipt, rule).then(
        () => report.rules++,
        (err: unknown) => note(`delete ${ipt.backend} rule`, err),
      );
    }
  }

  const links = await run(["ip", "-o", "link", "show"]);
  for (const line of links.split("\n")) {
    // `ip -o link` prints "7: wrenn-veth-3@if2: <...>"
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    const idx = name ? HOST_LINK.exec(name)?.[1] : undefined;
    if (!name || idx === undefined || !match(Number(idx))) continue;
    await run(["ip", "link", "delete", name]).then(
      () => report.links.push(name),
      (err: unknown) => note(`delete link ${name}`, err),
    );
  }

  const namespaces = await run(["ip", "netns", "list"]);
  for (const line of namespaces.split("\n")) {
    const name = line.split(/\s+/)[0];
    const idx = name ? NAMESPACE.exec(name)?.[1] : undefined;
    if (!name || idx === undefined || !match(Number(idx))) continue;
    await run(["ip", "netns", "delete", name]).then(
      () => report.namespaces.push(name),
      (err: unknown) => note(`delete namespace ${name}`, err),
    );
  }
  return report;
}
