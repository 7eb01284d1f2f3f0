import {
  createNetwork,
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  namespaceName,
  removeNetwork,
  SlotAllocator,
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
 */
export class NamespaceNetworkProvider implements NetworkProvider {
  readonly kind = "netns-tap";
  private readonly slots: SlotAllocator;

  constructor(
    range?: { first: number; last: number },
    private readonly config: NetworkConfig = DEFAULT_NETWORK_CONFIG,
  ) {
    this.slots = new SlotAllocator({ first: range?.first ?? 1, last: range?.last ?? config.maxSlots });
  }

  /** True when slot `idx` is held by a lease (start-up cleanup must leave adopted slots alone). */
  holds(idx: number): boolean {
    return this.slots.isAllocated(idx);
  }

  async acquire(): Promise<NetworkLease> {
    const idx = this.slots.allocate();
    let slot: Awaited<ReturnType<typeof createNetwork>>;
    try {
      slot = await createNetwork(idx, { config: this.config });
    } catch (err) {
      this.slots.release(idx);
      throw err;
    }
    return this.lease(idx, slot.namespace, slot.hostIp);
  }

  /**
   * Takes over the slot of a VM that survived an agent restart: the namespace, veth pair and
   * rules were left in place, so only the allocator learns the slot is taken. The saved
   * addresses must still be what this slot's plan gives (a changed address plan is not adopted).
   */
  async adopt(_ownerId: string, persisted: PersistedNetwork): Promise<NetworkLease | undefined> {
    if (persisted.kind !== "netns-tap") return undefined;
    const idx = persisted.slot;
    if (!Number.isInteger(idx) || idx < this.slots.first || idx > this.slots.last) return undefined;
    if (this.slots.isAllocated(idx)) return undefined;
    const plan = slotNetwork(idx, this.config);
    if (namespaceName(idx) !== persisted.namespace || plan.hostIp !== persisted.hostIp) return undefined;
    this.slots.reserve(idx);
    return this.lease(idx, persisted.namespace, persisted.hostIp);
  }

  private lease(idx: number, namespace: string, hostIp: string): NetworkLease {
    let released = false;
    return {
      attachment: new NamespaceTapNetwork(namespace, hostIp),
      persisted: { kind: "netns-tap", slot: idx, namespace, hostIp },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await removeNetwork(idx, { config: this.config });
        } finally {
          this.slots.release(idx);
        }
      },
    };
  }
}
