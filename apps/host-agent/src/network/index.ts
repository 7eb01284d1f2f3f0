/**
 * Per-sandbox networking: slot allocation, namespace + veth + TAP + NAT creation with
 * rollback, removal, and start-up cleanup of what a crashed agent left behind.
 */
export {
  assertSlotIndex,
  DEFAULT_NETWORK_CONFIG,
  GATEWAY_IP,
  GUEST_IP,
  GUEST_MAC,
  GUEST_PREFIX_LENGTH,
  MAX_SLOT_INDEX,
  type NetworkConfig,
  namespaceName,
  netnsExecPrefix,
  qemuNetdevArgs,
  type SlotNetwork,
  slotNetwork,
  TAP_MAC,
  TAP_NAME,
  validateNetworkConfig,
} from "./addresses.ts";
export { type CleanupOptions, type CleanupReport, cleanupStaleNetworks } from "./cleanup.ts";
export { type DnsUpstream, defaultDnsUpstream, EgressFilter } from "./egress-filter.ts";
export { CommandError } from "./exec.ts";
export { defaultIptables, detectIptables, type Iptables, type IptablesBackend } from "./iptables.ts";
export {
  createNetwork,
  NETWORK_STEPS,
  type NetworkOptions,
  type NetworkStep,
  removeNetwork,
} from "./netns.ts";
export { SandboxNetworks, type SandboxNetworksOptions } from "./sandbox-networks.ts";
export { SlotAllocator } from "./slot-allocator.ts";
