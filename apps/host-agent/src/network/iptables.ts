import { existsSync, readFileSync } from "node:fs";
import { errors } from "@wrenn/common";
import { CommandError, run } from "./exec.ts";

/** Which netfilter front end a set of iptables binaries drives. */
export type IptablesBackend = "nft" | "legacy";

/** The iptables binaries of one backend. */
export interface Iptables {
  backend: IptablesBackend;
  /** `iptables-nft` / `iptables-legacy` (or plain `iptables` when only that exists). */
  command: string;
  /** The matching `*-restore` binary. */
  restoreCommand: string;
}

/** One rule: table, chain and match/target arguments (as printed by `iptables -S` after the chain). */
export interface IptablesRule {
  table: "nat" | "filter";
  chain: string;
  spec: string[];
}

const SBIN_DIRS = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

function findBinary(name: string): string | undefined {
  for (const dir of SBIN_DIRS) {
    const path = `${dir}/${name}`;
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The binaries of `backend`, or undefined when they are not installed. */
export function iptablesFor(backend: IptablesBackend): Iptables | undefined {
  const command = findBinary(`iptables-${backend}`);
  const restoreCommand = findBinary(`iptables-${backend}-restore`);
  return command && restoreCommand ? { backend, command, restoreCommand } : undefined;
}

/**
 * Picks the iptables backend: `preferred` (e.g. from `WRENN_IPTABLES_BACKEND`) when given,
 * otherwise whatever the system's `iptables` alternative points at (`iptables -V` prints
 * `(nf_tables)` or `(legacy)`). Throws `unavailable` when no iptables is installed.
 */
export async function detectIptables(
  preferred: string | undefined = process.env.WRENN_IPTABLES_BACKEND,
): Promise<Iptables> {
  if (preferred) {
    if (preferred !== "nft" && preferred !== "legacy") {
      throw errors.invalidArgument("WRENN_IPTABLES_BACKEND must be 'nft' or 'legacy'");
    }
    const chosen = iptablesFor(preferred);
    if (!chosen) throw errors.unavailable(`iptables-${preferred} is not installed`);
    return chosen;
  }
  const plain = findBinary("iptables");
  if (!plain) throw errors.unavailable("iptables is not installed");
  const version = await run([plain, "-V"]).catch(() => "");
  const backend: IptablesBackend = version.includes("legacy") ? "legacy" : "nft";
  return iptablesFor(backend) ?? { backend, command: plain, restoreCommand: `${plain}-restore` };
}

let cachedDefault: Promise<Iptables> | undefined;

/** {@link detectIptables} once per process. */
export function defaultIptables(): Promise<Iptables> {
  cachedDefault ??= detectIptables();
  cachedDefault.catch(() => {
    cachedDefault = undefined;
  });
  return cachedDefault;
}

/** Renders rules as one `iptables-restore` transaction applying `op` to each, table by table. */
export function restoreScript(rules: readonly IptablesRule[], op: "-A" | "-I" | "-D"): string {
  const lines: string[] = [];
  for (const table of ["nat", "filter"] as const) {
    const ofTable = rules.filter((rule) => rule.table === table);
    if (ofTable.length === 0) continue;
    lines.push(`*${table}`);
    for (const rule of ofTable) lines.push([op, rule.chain, ...rule.spec].join(" "));
    lines.push("COMMIT");
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Applies `op` to every rule in one atomic `iptables-restore --noflush` call (all or none),
 * optionally inside a namespace via `prefix` (e.g. `ip netns exec wrenn-ns-3`).
 */
export async function applyRules(
  ipt: Iptables,
  rules: readonly IptablesRule[],
  op: "-A" | "-I" | "-D",
  prefix: readonly string[] = [],
): Promise<void> {
  if (rules.length === 0) return;
  await run([...prefix, ipt.restoreCommand, "-w", "--noflush"], restoreScript(rules, op));
}

/** A rule found on the system, with the slot index its `wrenn-{idx}` comment names. */
export interface TaggedRule extends IptablesRule {
  idx: number;
}

const COMMENT_TAG = /(?:^|\s)--comment "?wrenn-(\d+)"?(?=\s|$)/;

/** Parses `iptables -S` output of one table into the rules carrying a `wrenn-{idx}` comment. */
export function parseTaggedRules(table: IptablesRule["table"], listing: string): TaggedRule[] {
  const found: TaggedRule[] = [];
  for (const line of listing.split("\n")) {
    const match = COMMENT_TAG.exec(line);
    if (!line.startsWith("-A ") || !match?.[1]) continue;
    const [, chain, ...spec] = line.trim().split(/\s+/);
    if (!chain) continue;
    found.push({
      table,
      chain,
      spec: spec.map((arg) => arg.replace(/^"(.*)"$/, "$1")),
      idx: Number(match[1]),
    });
  }
  return found;
}

/**
 * True when the legacy backend has `table` loaded. Listing a legacy table that is not loaded
 * would load it (and make iptables-nft warn about legacy tables from then on), so scans skip it.
 */
function legacyTableLoaded(table: string): boolean {
  try {
    return readFileSync("/proc/net/ip_tables_names", "utf8").split("\n").includes(table);
  } catch {
    return false;
  }
}

/** Every `wrenn-{idx}`-tagged rule in the host's nat and filter tables of `ipt`'s backend. */
export async function listTaggedRules(ipt: Iptables): Promise<TaggedRule[]> {
  const found: TaggedRule[] = [];
  for (const table of ["nat", "filter"] as const) {
    if (ipt.backend === "legacy" && !legacyTableLoaded(table)) continue;
    const listing = await run([ipt.command, "-w", "-t", table, "-S"]);
    found.push(...parseTaggedRules(table, listing));
  }
  return found;
}

/** True when `rule` is in its chain (`iptables -C`). */
export async function hasRule(ipt: Iptables, rule: IptablesRule): Promise<boolean> {
  try {
    await run([ipt.command, "-w", "-t", rule.table, "-C", rule.chain, ...rule.spec]);
    return true;
  } catch (err) {
    if (err instanceof CommandError && /does a matching rule exist|Bad rule/.test(err.stderr)) return false;
    throw err;
  }
}

/** Deletes one rule; a rule that is already gone is not an error. */
export async function deleteRule(ipt: Iptables, rule: IptablesRule): Promise<void> {
  try {
    await run([ipt.command, "-w", "-t", rule.table, "-D", rule.chain, ...rule.spec]);
  } catch (err) {
    if (
      err instanceof CommandError &&
      /does a matching rule exist|No chain\/target\/match|Bad rule/.test(err.stderr)
    ) {
      return;
    }
    throw err;
  }
}
