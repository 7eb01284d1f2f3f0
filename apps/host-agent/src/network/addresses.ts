import { errors } from "@wrenn/common";

/**
 * The guest's address inside every sandbox. Identical for all sandboxes so a memory
 * snapshot restores without reconfiguring the guest network.
 */
export const GUEST_IP = "169.254.0.21";
/** The gateway address the TAP holds inside each namespace (the guest's default route). */
export const GATEWAY_IP = "169.254.0.22";
/** Prefix length of the guest ⇄ TAP link (a /30 holding exactly the two addresses above). */
export const GUEST_PREFIX_LENGTH = 30;
/** The guest NIC's MAC address, fixed for the same reason as {@link GUEST_IP}. */
export const GUEST_MAC = "02:77:72:00:00:21";
/**
 * The TAP's MAC address. Also fixed: the guest's ARP entry for its gateway survives a
 * snapshot, so a per-sandbox TAP MAC would black-hole traffic after a restore until
 * the stale neighbour entry expires.
 */
export const TAP_MAC = "02:77:72:00:00:22";
/** Name of the TAP device inside every sandbox namespace. */
export const TAP_NAME = "tap0";

/** Prefix shared by every host-visible name Wrenn creates (namespaces, links, rule comments). */
export const NAME_PREFIX = "wrenn-";
/** Largest slot index: keeps `wrenn-veth-{idx}` within the kernel's 15-byte interface name limit. */
export const MAX_SLOT_INDEX = 9999;

/** Address plan for sandbox networking. */
export interface NetworkConfig {
  /** CIDR from which each slot's host-reachable address is taken (`base + idx`). */
  hostCidr: string;
  /** CIDR split into /31 pairs, one per slot, for the veth link (`base + 2·idx`, `base + 2·idx + 1`). */
  vethCidr: string;
  /** Highest slot index handed out (slots are 1..maxSlots). */
  maxSlots: number;
}

/** Default address plan: 10.11.0.0/16 for host-reachable addresses, 10.12.0.0/16 for veth pairs. */
export const DEFAULT_NETWORK_CONFIG: NetworkConfig = Object.freeze({
  hostCidr: "10.11.0.0/16",
  vethCidr: "10.12.0.0/16",
  maxSlots: 4096,
});

/** Every name and address belonging to one slot. */
export interface SlotNetwork {
  idx: number;
  /** Network namespace name, `wrenn-ns-{idx}`. */
  namespace: string;
  /** Host-side veth, `wrenn-veth-{idx}`. */
  vethName: string;
  /**
   * Namespace-side veth, `wrenn-vp-{idx}` (`wrenn-vpeer-{idx}` would exceed the 15-byte
   * interface name limit from idx 1000 on).
   */
  vpeerName: string;
  /** Address of the host-side veth (the namespace's default gateway). */
  vethIp: string;
  /** Address of the namespace-side veth. */
  vpeerIp: string;
  /** The address the host uses to reach this sandbox's guest (DNAT to {@link GUEST_IP}). */
  hostIp: string;
  /** Comment attached to every iptables rule of this slot: `wrenn-{idx}`. */
  ruleComment: string;
}

/** Parses a dotted IPv4 address into an unsigned 32-bit integer. */
export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4) throw errors.invalidArgument(`invalid IPv4 address: ${ip}`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255)
      throw errors.invalidArgument(`invalid IPv4 address: ${ip}`);
    value = value * 256 + Number(part);
  }
  return value;
}

/** Formats an unsigned 32-bit integer as a dotted IPv4 address. */
export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** Parses `a.b.c.d/n` into its network base (host bits cleared) and size. */
export function parseCidr(cidr: string): { base: number; prefix: number; size: number } {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const prefix = Number(match?.[2]);
  if (!match?.[1] || prefix > 30 || prefix < 8)
    throw errors.invalidArgument(`invalid CIDR (need /8../30): ${cidr}`);
  const size = 2 ** (32 - prefix);
  const base = ipToInt(match[1]) - (ipToInt(match[1]) % size);
  return { base, prefix, size };
}

/** Throws `invalid_argument` unless `idx` is an integer slot index in 1..{@link MAX_SLOT_INDEX}. */
export function assertSlotIndex(idx: unknown): number {
  if (typeof idx !== "number" || !Number.isSafeInteger(idx) || idx < 1 || idx > MAX_SLOT_INDEX) {
    throw errors.invalidArgument(`slot index must be an integer between 1 and ${MAX_SLOT_INDEX}`);
  }
  return idx;
}

/**
 * Validates a config: both CIDRs parse, they do not overlap, and every slot up to
 * `maxSlots` has an address in each. Returns the config unchanged.
 */
export function validateNetworkConfig(config: NetworkConfig): NetworkConfig {
  assertSlotIndex(config.maxSlots);
  const host = parseCidr(config.hostCidr);
  const veth = parseCidr(config.vethCidr);
  if (host.base < veth.base + veth.size && veth.base < host.base + host.size) {
    throw errors.invalidArgument("hostCidr and vethCidr must not overlap");
  }
  if (config.maxSlots > host.size - 2)
    throw errors.invalidArgument(`hostCidr ${config.hostCidr} is too small`);
  if (config.maxSlots > veth.size / 2 - 1)
    throw errors.invalidArgument(`vethCidr ${config.vethCidr} is too small`);
  return config;
}

/** Names and addresses of slot `idx` under `config`. Pure: creates nothing. */
export function slotNetwork(idx: number, config: NetworkConfig = DEFAULT_NETWORK_CONFIG): SlotNetwork {
  assertSlotIndex(idx);
  if (idx > config.maxSlots)
    throw errors.invalidArgument(`slot index ${idx} exceeds maxSlots ${config.maxSlots}`);
  const host = parseCidr(config.hostCidr);
  const veth = parseCidr(config.vethCidr);
  return {
    idx,
    namespace: `${NAME_PREFIX}ns-${idx}`,
    vethName: `${NAME_PREFIX}veth-${idx}`,
    vpeerName: `${NAME_PREFIX}vp-${idx}`,
    vethIp: intToIp(veth.base + 2 * idx),
    vpeerIp: intToIp(veth.base + 2 * idx + 1),
    hostIp: intToIp(host.base + idx),
    ruleComment: `${NAME_PREFIX}${idx}`,
  };
}

/** The namespace name of slot `idx` (`wrenn-ns-{idx}`), after validating `idx`. */
export function namespaceName(idx: number): string {
  return `${NAME_PREFIX}ns-${assertSlotIndex(idx)}`;
}

/**
 * The argv prefix that runs a program inside slot `idx`'s namespace:
 * `["ip", "netns", "exec", "wrenn-ns-{idx}"]`. `ip netns exec` execs the program, so the
 * spawned child's pid is the program's own pid.
 */
export function netnsExecPrefix(idx: number): string[] {
  return ["ip", "netns", "exec", namespaceName(idx)];
}

/**
 * QEMU arguments attaching the guest NIC to the namespace's TAP with the fixed guest MAC
 * (virtio-mmio device, as `-M microvm` needs).
 */
export function qemuNetdevArgs(netdevId = "n0"): string[] {
  return [
    "-netdev",
    `tap,id=${netdevId},ifname=${TAP_NAME},script=no,downscript=no`,
    "-device",
    `virtio-net-device,netdev=${netdevId},mac=${GUEST_MAC}`,
  ];
}
