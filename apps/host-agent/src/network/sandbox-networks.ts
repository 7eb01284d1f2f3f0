import { createLogger, type EgressPolicy, isOpenEgress, type Logger } from "@wrenn/common";
import {
  DEFAULT_NETWORK_CONFIG,
  type NetworkConfig,
  type SlotNetwork,
  slotNetwork,
  validateNetworkConfig,
} from "./addresses.ts";
import { type CleanupReport, cleanupStaleNetworks } from "./cleanup.ts";
import { type DnsUpstream, defaultDnsUpstream, EgressFilter } from "./egress-filter.ts";
import { defaultIptables, type Iptables } from "./iptables.ts";
import { createNetwork, removeNetwork } from "./netns.ts";
import { SlotAllocator } from "./slot-allocator.ts";

/** Options of {@link SandboxNetworks}. */
export interface SandboxNetworksOptions {
  config?: Partial<NetworkConfig>;
  /** First slot index handed out (default 1). */
  firstSlot?: number;
  /** Last slot index handed out (default `config.maxSlots`). */
  lastSlot?: number;
  iptables?: Iptables;
  /**
   * How many networks to keep created ahead of demand (default 0). Setting one up takes
   * 60-110 ms here; a warm network makes {@link SandboxNetworks.acquire} take ~0 ms.
   */
  warmPoolSize?: number;
  logger?: Logger;
  /** Resolver the egress filter forwards guests' DNS to (default {@link defaultDnsUpstream}). */
  egressDns?: DnsUpstream;
}

/**
 * The sandbox manager's single entry point to networking: a {@link SlotAllocator} plus
 * create/remove (so a slot is held exactly while its network exists), and an optional pool of
 * networks created ahead of demand.
 */
export class SandboxNetworks {
  readonly config: NetworkConfig;
  readonly slots: SlotAllocator;
  private readonly iptables: Iptables | undefined;
  private readonly warmTarget: number;
  private readonly warm: SlotNetwork[] = [];
  private refilling: Promise<void> | undefined;
  private closed = false;
  private readonly log: Logger;
  private readonly filters = new Map<number, EgressFilter>();
  private readonly egressDns: DnsUpstream | undefined;

  constructor(options: SandboxNetworksOptions = {}) {
    this.config = validateNetworkConfig({ ...DEFAULT_NETWORK_CONFIG, ...options.config });
    this.slots = new SlotAllocator({
      first: options.firstSlot ?? 1,
      last: options.lastSlot ?? this.config.maxSlots,
    });
    this.iptables = options.iptables;
    this.warmTarget = Math.max(0, Math.floor(options.warmPoolSize ?? 0));
    this.log = options.logger ?? createLogger("host-agent");
    this.egressDns = options.egressDns;
  }

  /** Number of networks created ahead of demand and not yet handed out. */
  get warmCount(): number {
    return this.warm.length;
  }

  /**
   * Removes whatever a previous (crashed) agent left behind. Call once at start-up, before
   * the first {@link acquire}: it removes every `wrenn-` namespace, link and rule (or only
   * the slots `match` accepts).
   */
  async cleanupStale(match?: (idx: number) => boolean): Promise<CleanupReport> {
    return cleanupStaleNetworks({ match, iptables: this.iptables ?? (await defaultIptables()) });
  }

  /** Fills the warm pool and resolves once it is full (or could not be filled further). */
  async warmUp(): Promise<void> {
    this.refill();
    await this.refilling;
  }

  /**
   * Hands out a ready network: a warm one when available (the pool refills in the
   * background), else a newly created one. On failure nothing stays allocated and the error
   * (already rolled back by {@link createNetwork}) is rethrown.
   */
  async acquire(): Promise<SlotNetwork> {
    const ready = this.warm.shift();
    this.refill();
    return ready ?? this.createOne();
  }

  /**
   * Removes slot `idx`'s network and frees the slot. The slot is freed only when removal
   * succeeded, so a half-removed network is never handed to another sandbox.
   */
  async release(idx: number): Promise<void> {
    // A failure here leaves at most the DNS filter's host rule, which the next start-up cleanup removes (it is tagged with the slot).
    await this.filters
      .get(idx)
      ?.close()
      .catch((err: unknown) => this.log.warn({ err, slot: idx }, "stopping the egress filter failed"));
    this.filters.delete(idx);
    await removeNetwork(idx, { config: this.config, iptables: this.iptables });
    this.slots.release(idx);
  }

  /**
   * Enforces `policy` on slot `idx`'s traffic from now on, replacing what was enforced before
   * (a network comes out of {@link acquire} with none). Networks are created before the policy
   * of their sandbox is known (the warm pool), so this runs when one is handed to a sandbox,
   * and again on every change. The open policy on a slot never restricted is a no-op.
   */
  async applyEgress(idx: number, policy: EgressPolicy): Promise<void> {
    let filter = this.filters.get(idx);
    if (!filter) {
      if (isOpenEgress(policy)) return;
      const slot = slotNetwork(idx, this.config);
      filter = new EgressFilter(slot, this.iptables ?? (await defaultIptables()), this.upstream(), this.log);
      this.filters.set(idx, filter);
    }
    await filter.apply(policy);
  }

  /** The egress filter of slot `idx`, when one was ever applied (tests). */
  egressFilter(idx: number): EgressFilter | undefined {
    return this.filters.get(idx);
  }

  private upstream(): DnsUpstream {
    return this.egressDns ?? defaultDnsUpstream();
  }

  /** Stops refilling and removes the warm networks (handed-out ones are the caller's). */
  async close(): Promise<void> {
    this.closed = true;
    await this.refilling;
    for (const slot of this.warm.splice(0)) await this.release(slot.idx);
  }

  private async createOne(): Promise<SlotNetwork> {
    const idx = this.slots.allocate();
    try {
      return await createNetwork(idx, { config: this.config, iptables: this.iptables });
    } catch (err) {
      this.slots.release(idx);
      throw err;
    }
  }

  private refill(): void {
    if (this.refilling || this.closed || this.warm.length >= this.warmTarget) return;
    this.refilling = (async () => {
      try {
        while (!this.closed && this.warm.length < this.warmTarget && this.slots.inUse < this.slots.capacity) {
          this.warm.push(await this.createOne());
        }
      } catch (err) {
        this.log.warn({ err }, "could not pre-create a sandbox network");
      } finally {
        this.refilling = undefined;
      }
    })();
  }
}
