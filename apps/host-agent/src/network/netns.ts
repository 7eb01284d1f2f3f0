import { writeFile } from "node:fs/promises";
import { errors } from "@wrenn/common";
import {
  DEFAULT_NETWORK_CONFIG,
  GATEWAY_IP,
  GUEST_IP,
  GUEST_PREFIX_LENGTH,
  type NetworkConfig,
  type SlotNetwork,
  slotNetwork,
  TAP_MAC,
  TAP_NAME,
} from "./addresses.ts";
import { CommandError, run } from "./exec.ts";
import { applyRules, defaultIptables, deleteRule, type Iptables, type IptablesRule } from "./iptables.ts";

/** Names of the set-up steps, in order (test hooks and logs refer to them). */
export const NETWORK_STEPS = [
  "namespace",
  "veth",
  "host-link",
  "namespace-links",
  "namespace-forwarding",
  "namespace-nat",
  "host-rules",
] as const;

/** One of {@link NETWORK_STEPS}. */
export type NetworkStep = (typeof NETWORK_STEPS)[number];

/** Options shared by {@link createNetwork}, {@link removeNetwork} and the cleanup. */
export interface NetworkOptions {
  /** Address plan; defaults to {@link DEFAULT_NETWORK_CONFIG}. */
  config?: NetworkConfig;
  /** iptables binaries; detected once per process when omitted. */
  iptables?: Iptables;
  /**
   * Called before each step. Tests throw from it to prove the rollback; production code
   * leaves it unset.
   */
  beforeStep?: (step: NetworkStep, slot: SlotNetwork) => void | Promise<void>;
}

/** iptables rules inside the namespace: host-reachable address ⇄ guest address. */
export function namespaceRules(slot: SlotNetwork): IptablesRule[] {
  const tag = ["-m", "comment", "--comment", slot.ruleComment];
  return [
    {
      table: "nat",
      chain: "PREROUTING",
      spec: [
        "-d",
        `${slot.hostIp}/32`,
        "-i",
        slot.vpeerName,
        ...tag,
        "-j",
        "DNAT",
        "--to-destination",
        GUEST_IP,
      ],
    },
    {
      table: "nat",
      chain: "POSTROUTING",
      spec: ["-s", `${GUEST_IP}/32`, "-o", slot.vpeerName, ...tag, "-j", "SNAT", "--to-source", slot.hostIp],
    },
  ];
}

/**
 * Host rules of one slot, in insertion order for `iptables-restore` with `-I` (each lands on
 * top, so the last listed ends up first):
 * - FORWARD: traffic from the sandbox may leave (egress), replies may come back, but it may
 *   never be forwarded into another sandbox's veth (the DROP ends up above the ACCEPTs);
 * - INPUT: the sandbox may not open connections to the host itself (the agent's RPC port and
 *   anything else listening); replies to connections the host opened still pass;
 * - nat POSTROUTING: MASQUERADE egress. After the namespace's SNAT the source is the
 *   host-reachable address; traffic the namespace itself originates carries the vpeer address.
 */
export function hostRules(slot: SlotNetwork): IptablesRule[] {
  const tag = ["-m", "comment", "--comment", slot.ruleComment];
  const established = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"];
  return [
    { table: "filter", chain: "FORWARD", spec: ["-i", slot.vethName, ...tag, "-j", "ACCEPT"] },
    {
      table: "filter",
      chain: "FORWARD",
      spec: ["-o", slot.vethName, ...established, ...tag, "-j", "ACCEPT"],
    },
    {
      table: "filter",
      chain: "FORWARD",
      spec: ["-i", slot.vethName, "-o", "wrenn-veth+", ...tag, "-j", "DROP"],
    },
    { table: "filter", chain: "INPUT", spec: ["-i", slot.vethName, ...tag, "-j", "DROP"] },
    { table: "filter", chain: "INPUT", spec: ["-i", slot.vethName, ...established, ...tag, "-j", "ACCEPT"] },
    { table: "nat", chain: "POSTROUTING", spec: ["-s", `${slot.hostIp}/32`, ...tag, "-j", "MASQUERADE"] },
    { table: "nat", chain: "POSTROUTING", spec: ["-s", `${slot.vpeerIp}/32`, ...tag, "-j", "MASQUERADE"] },
  ];
}

/** Turns on IPv4 forwarding in the host's namespace (needed for egress and host → guest). */
async function enableHostForwarding(): Promise<void> {
  await writeFile("/proc/sys/net/ipv4/ip_forward", "1\n");
}

interface Step {
  name: NetworkStep;
  apply: () => Promise<void>;
  /** Undoes `apply`; absent when a later undo (deleting the namespace) already covers it. */
  undo?: () => Promise<void>;
}

function stepsFor(slot: SlotNetwork, ipt: Iptables): Step[] {
  const inNamespace = ["ip", "netns", "exec", slot.namespace];
  return [
    {
      name: "namespace",
      apply: () => run(["ip", "netns", "add", slot.namespace]).then(() => {}),
      undo: () => run(["ip", "netns", "delete", slot.namespace]).then(() => {}),
    },
    {
      name: "veth",
      apply: () =>
        run([
          "ip",
          "link",
          "add",
          slot.vethName,
          "type",
          "veth",
          "peer",
          "name",
          slot.vpeerName,
          "netns",
          slot.namespace,
        ]).then(() => {}),
      // Deleting either end removes the pair; the host end must go explicitly because a
      // namespace still held by a process outlives `ip netns delete`.
      undo: () => run(["ip", "link", "delete", slot.vethName]).then(() => {}),
    },
    {
      name: "host-link",
      apply: async () => {
        await enableHostForwarding();
        await run(
          ["ip", "-batch", "-"],
          [
            `addr add ${slot.vethIp}/31 dev ${slot.vethName}`,
            `link set ${slot.vethName} up`,
            `route add ${slot.hostIp}/32 via ${slot.vpeerIp} dev ${slot.vethName}`,
          ].join("\n"),
        );
      },
      // The address and route disappear with the link (undone by the "veth" step).
    },
    {
      name: "namespace-links",
      apply: () =>
        run(
          ["ip", "-netns", slot.namespace, "-batch", "-"],
          [
            "link set lo up",
            `addr add ${slot.vpeerIp}/31 dev ${slot.vpeerName}`,
            `link set ${slot.vpeerName} up`,
            `route add default via ${slot.vethIp} dev ${slot.vpeerName}`,
            `tuntap add dev ${TAP_NAME} mode tap`,
            `link set ${TAP_NAME} address ${TAP_MAC}`,
            `addr add ${GATEWAY_IP}/${GUEST_PREFIX_LENGTH} dev ${TAP_NAME}`,
            `link set ${TAP_NAME} up`,
          ].join("\n"),
        ).then(() => {}),
    },
    {
      name: "namespace-forwarding",
      apply: () => run([...inNamespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"]).then(() => {}),
    },
    {
      name: "namespace-nat",
      apply: () => applyRules(ipt, namespaceRules(slot), "-A", inNamespace),
    },
    {
      name: "host-rules",
      // One atomic transaction: either every host rule of the slot exists or none does.
      apply: () => applyRules(ipt, hostRules(slot), "-I"),
      undo: () => applyRules(ipt, hostRules(slot), "-D"),
    },
  ];
}

/**
 * Creates slot `idx`'s network: namespace `wrenn-ns-{idx}`, veth pair, TAP `tap0` holding the
 * guest's gateway address, DNAT/SNAT inside the namespace, a host route to the slot's
 * host-reachable address and the host's forwarding/MASQUERADE rules. When any step fails,
 * everything created so far is removed (in reverse order) and `internal` is thrown; the
 * original failure is the error's `cause`.
 */
export async function createNetwork(idx: number, options: NetworkOptions = {}): Promise<SlotNetwork> {
  const slot = slotNetwork(idx, options.config ?? DEFAULT_NETWORK_CONFIG);
  const ipt = options.iptables ?? (await defaultIptables());
  const done: Step[] = [];
  try {
    for (const step of stepsFor(slot, ipt)) {
      await options.beforeStep?.(step.name, slot);
      await step.apply();
      done.push(step);
    }
    return slot;
  } catch (cause) {
    const rollbackFailures: unknown[] = [];
    for (const step of done.reverse()) {
      if (!step.undo) continue;
      await step.undo().catch((err: unknown) => rollbackFailures.push(err));
    }
    const detail = rollbackFailures.length ? new AggregateError([cause, ...rollbackFailures]) : cause;
    throw errors.internal(`failed to set up network for slot ${idx}`, detail);
  }
}

/**
 * Removes everything {@link createNetwork} made for slot `idx`. Tolerates parts that are already
 * gone; every other failure is collected and reported together as one `internal` error after
 * all removal steps were attempted.
 */
export async function removeNetwork(idx: number, options: NetworkOptions = {}): Promise<void> {
  const slot = slotNetwork(idx, options.config ?? DEFAULT_NETWORK_CONFIG);
  const ipt = options.iptables ?? (await defaultIptables());
  const failures: unknown[] = [];
  try {
    await applyRules(ipt, hostRules(slot), "-D");
  } catch {
    // The atomic delete fails as a whole when any rule is already missing; go rule by rule.
    for (const rule of hostRules(slot))
      await deleteRule(ipt, rule).catch((err: unknown) => failures.push(err));
  }
  await unlessGone(run(["ip", "link", "delete", slot.vethName]), failures);
  await unlessGone(run(["ip", "netns", "delete", slot.namespace]), failures);
  if (failures.length) {
    throw errors.internal(`failed to remove network for slot ${idx}`, new AggregateError(failures));
  }
}

const GONE = /Cannot find device|does not exist|No such file or directory/;

/** Awaits `action`, recording its failure unless it only says the thing is already gone. */
async function unlessGone(action: Promise<unknown>, failures: unknown[]): Promise<void> {
  try {
    await action;
  } catch (err) {
    if (!(err instanceof CommandError && GONE.test(err.stderr))) failures.push(err);
  }
}
