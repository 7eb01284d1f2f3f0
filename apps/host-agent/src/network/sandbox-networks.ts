import {
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  type SlotNetwork,
  validateNetworkConfig,
} from "./addresses.ts";
import { type CleanupReport, cleanupStaleNetworks } from "./cleanup.ts";
import { defaultIptables, type Iptables } from "./iptables.ts";
import { createNetwork, removeNetwork } from "./netns.ts";
import { SlotAllocator } from "./slot-allocator.ts";

/** Options of {@link SandboxNetworks}. */
export interface SandboxNetworksOptions {
  config?: Partial<NetworkConfig>;
  /** First slot index handed out (default 1). */
  firstSlot?: number;
  iptables?: Iptables;
}

/**
 * The sandbox manager's single entry point to networking: a {@link SlotAllocator} plus
 * create/remove, so a slot is held exactly while its network exists.
 */
export class SandboxNetworks {
  readonly config: NetworkConfig;
  readonly slots: SlotAllocator;
  private readonly iptables: Iptables | undefined;

  constructor(options: SandboxNetworksOptions = {}) {
    this.config = validateNetworkConfig({ ...DEFAULT_NETWORK_CONFIG, ...options.config });
    this.slots = new SlotAllocator({ first: options.firstSlot ?? 1, last: this.config.maxSlots });
    this.iptables = options.iptables;
  }

  /**
   * Removes whatever a previous (crashed) agent left behind. Call once at start-up, before
   * the first {@link acquire}: it removes every `wrenn-` namespace, link and rule (or only
   * the slots `match` accepts).
   */
  async cleanupStale(match?: (idx: number) => boolean): Promise<CleanupReport> {
    return cleanupStaleNetworks({ match, iptables: this.iptables ?? (await defaultIptables()) });
  }

  /**
   * Allocates a slot and creates its network. On failure the slot is returned to the pool and
   * the error (already rolled back by {@link createNetwork}) is rethrown.
   */
  async acquire(): Promise<SlotNetwork> {
    const idx = this.slots.allocate();
    try {
      return await createNetwork(idx, { config: this.config, iptables: this.iptables });
    } catch (err) {
      this.slots.release(idx);
      throw err;
    }
  }

  /**
   * Removes slot `idx`'s network and frees the slot. The slot is freed only when removal
   * succeeded, so a half-removed network is never handed to another sandbox.
   */
  async release(idx: number): Promise<void> {
    await removeNetwork(idx, { config: this.config, iptables: this.iptables });
    this.slots.release(idx);
  }
}
