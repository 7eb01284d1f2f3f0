import type { Logger } from "@wrenn/common";
import {
  DEFAULT_NETWORK_CONFIG,
  type DnsUpstream,
  type NetworkConfig,
  namespaceName,
  SandboxNetworks,
  slotNetwork,
} from "../network/index.ts";
import {
  NamespaceTapNetwork,
  type NetworkLease,
  type NetworkProvider,
  type PersistedNetwork,
} from "../vmm/network-attachment.ts";

/**
 * Production networking: each VM gets a slot (namespace `wrenn-ns-{idx}`, veth
 * pair, TAP `tap0`, NAT to the fixed guest address) from the network module,
 * and its VMM runs inside that namespace.
 *
 * Setting a slot up takes 60-110 ms of `ip`/`iptables` commands here, on the
 * path of every create and resume, so `warmPoolSize` networks are kept set up
 * ahead of demand ({@link SandboxNetworks}' pool). The pool first fills on the
 * first acquire, never during start-up recovery (which must first take over the
 * slots of VMs that survived); after a crash its slots are unheld, so the
 * start-up cleanup removes them like any other leftover.
 */
export class NamespaceNetworkProvider implements NetworkProvider {
  readonly kind = "netns-tap";
  private readonly networks: SandboxNetworks;

  constructor(
    range?: { first: number; last: number },
    private readonly config: NetworkConfig = DEFAULT_NETWORK_CONFIG,
    warmPoolSize = 1,
    logger?: Logger,
    egressDns?: DnsUpstream,
  ) {
    this.networks = new SandboxNetworks({
      config,
      firstSlot: range?.first ?? 1,
      lastSlot: range?.last ?? config.maxSlots,
      warmPoolSize,
      logger,
      egressDns,
    });
  }

  /** True when slot `idx` is held by a lease or the warm pool (start-up cleanup must leave it alone). */
  holds(idx: number): boolean {
    return this.networks.slots.isAllocated(idx);
  }

  /** Networks set up ahead of demand and not handed out yet. */
  get warmCount(): number {
    return this.networks.warmCount;
  }

  async acquire(): Promise<NetworkLease> {
    const slot = await this.networks.acquire();
    return this.lease(slot.idx, slot.namespace, slot.hostIp);
  }

  /**
   * Takes over the slot of a VM that survived an agent restart: the namespace, veth pair and
   * rules were left in place, so only the allocator learns the slot is taken. The saved
   * addresses must still be what this slot's plan gives (a changed address plan is not adopted).
   */
  async adopt(_ownerId: string, persisted: PersistedNetwork): Promise<NetworkLease | undefined> {
    if (persisted.kind !== "netns-tap") return undefined;
    const idx = persisted.slot;
    const { slots } = this.networks;
    if (!Number.isInteger(idx) || idx < slots.first || idx > slots.last) return undefined;
    if (slots.isAllocated(idx)) return undefined;
    const plan = slotNetwork(idx, this.config);
    if (namespaceName(idx) !== persisted.namespace || plan.hostIp !== persisted.hostIp) return undefined;
    slots.reserve(idx);
    return this.lease(idx, persisted.namespace, persisted.hostIp);
  }

  /** Removes the networks set up ahead of demand (leases handed out stay their holders'). */
  close(): Promise<void> {
    return this.networks.close();
  }

  private lease(idx: number, namespace: string, hostIp: string): NetworkLease {
    let released = false;
    return {
      attachment: new NamespaceTapNetwork(namespace, hostIp),
      persisted: { kind: "netns-tap", slot: idx, namespace, hostIp },
      applyEgress: (policy) => this.networks.applyEgress(idx, policy),
      release: async () => {
        if (released) return;
        released = true;
        await this.networks.release(idx);
      },
    };
  }
}
