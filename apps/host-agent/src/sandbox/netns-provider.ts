import {
  createNetwork,
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  removeNetwork,
  SlotAllocator,
} from "../network/index.ts";
import { NamespaceTapNetwork, type NetworkLease, type NetworkProvider } from "../vmm/network-attachment.ts";

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

  async acquire(): Promise<NetworkLease> {
    const idx = this.slots.allocate();
    let slot: Awaited<ReturnType<typeof createNetwork>>;
    try {
      slot = await createNetwork(idx, { config: this.config });
    } catch (err) {
      this.slots.release(idx);
      throw err;
    }
    let released = false;
    return {
      attachment: new NamespaceTapNetwork(slot.namespace, slot.hostIp),
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
