import { errors, type Logger } from "@wrenn/common";

/**
 * How many warm VMs to keep per template: `perTemplate` by template id or name, `others`
 * for every other template the host has created a sandbox from.
 */
export interface WarmPoolSizes {
  perTemplate: Readonly<Record<string, number>>;
  others: number;
}

/** The prefix of warm VMs' pool ids and run directories (reserved: no sandbox id may start with it). */
export const WARM_DIR_PREFIX = "warm.";

/** No warm pool at all. */
export const NO_WARM_POOL: WarmPoolSizes = { perTemplate: {}, others: 0 };

/** The most warm VMs one template may keep (each holds a network slot and its guest's memory). */
export const MAX_WARM_PER_TEMPLATE = 16;

/**
 * Parses `WRENN_WARM_POOL`: `minimal=2,python=1` (template id or name = size; `*=n` for every
 * other template), or one number for every template. Empty or undefined: `fallback`.
 */
export function parseWarmPoolSetting(value: string | undefined, fallback: WarmPoolSizes): WarmPoolSizes {
  if (value === undefined || value.trim() === "") return fallback;
  const bad = () =>
    errors.invalidArgument(
      `WRENN_WARM_POOL must look like minimal=2,python=1 (sizes 0-${MAX_WARM_PER_TEMPLATE}, *=n for other templates) or be one number`,
    );
  const size = (s: string) => {
    if (!/^\d+$/.test(s.trim())) throw bad();
    const n = Number(s);
    if (n > MAX_WARM_PER_TEMPLATE) throw bad();
    return n;
  };
  if (/^\s*\d+\s*$/.test(value)) return { perTemplate: {}, others: size(value) };
  const perTemplate: Record<string, number> = {};
  let others = 0;
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw bad();
    const name = part.slice(0, eq).trim();
    if (!/^[A-Za-z0-9*][A-Za-z0-9._-]*$/.test(name)) throw bad();
    if (name === "*") others = size(part.slice(eq + 1));
    else perTemplate[name] = size(part.slice(eq + 1));
  }
  return { perTemplate, others };
}

/** A template the pool keeps VMs of (learned from creates: the pool never guesses teams). */
export interface WarmTemplate {
  teamId: string;
  templateId: string;
  templateName: string;
}

/** What the pool needs to know of one warm VM; the backend's own type carries the rest. */
export interface WarmVmInfo {
  /** Pool id (also its run directory's name until it is handed over). */
  readonly poolId: string;
  /** Template generation the VM was restored from (its disk's backing file lives there). */
  readonly generationDir: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskSizeMb: number;
  /** False once the VM's process has ended (it is then discarded, never handed over). */
  readonly alive: boolean;
}

/** Starts and ends warm VMs (real microVMs in `warm-vm.ts`, fakes in unit tests). */
export interface WarmPoolBackend<T extends WarmVmInfo> {
  /** Restores one VM of `template` under `poolId`, envd answering; never visible as a sandbox. */
  start(template: WarmTemplate, poolId: string): Promise<T>;
  /** Ends a VM that was never handed over and removes everything it held. Never throws. */
  destroy(vm: T): Promise<void>;
}

/** What a create asks of a warm VM; vCPUs and memory 0 or undefined mean "the template's". */
export interface WarmRequest {
  generationDir: string;
  diskSizeMb: number;
  vcpus?: number | undefined;
  memoryMb?: number | undefined;
}

/** One template's line in the heartbeat report. */
export interface WarmPoolEntry {
  teamId: string;
  templateId: string;
  templateName: string;
  /** Warm VMs ready to be taken. */
  ready: number;
  /** VMs being restored for the pool right now. */
  starting: number;
  /** Guest memory the pool's VMs of this template hold (ready and starting), MiB. */
  memoryMb: number;
}

interface Slot<T> {
  template: WarmTemplate;
  target: number;
  ready: T[];
  starting: number;
  /** Bumped by a drain: a VM whose start began before it is destroyed when it comes up. */
  epoch: number;
  /** The last start failed: no retries until the next create of this template says it is usable. */
  failed: boolean;
  /** Guest memory of this template's VMs, MiB (known once one came up). */
  memoryMb: number;
}

const keyOf = (teamId: string, templateId: string) => `${teamId}/${templateId}`;

/**
 * The warm pool's bookkeeping: per template, VMs restored ahead of demand and not assigned to
 * any sandbox. A create {@link take}s one; refills run in the background, one VM at a time and
 * only while no create is in flight, so they never compete with the request they replace.
 * Templates join the pool with their first create ({@link noteCreate}); a drain (template
 * deleted or overwritten) and {@link close} destroy their VMs, including one still starting.
 */
export class WarmPool<T extends WarmVmInfo> {
  private readonly slots = new Map<string, Slot<T>>();
  private inflight = 0;
  private quietWaiters: (() => void)[] = [];
  private worker: Promise<void> | undefined;
  private closed = false;
  private seq = 0;
  /** Refill checks scheduled by {@link endCreate} that have not run yet. */
  private pendingKicks = 0;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly backend: WarmPoolBackend<T>,
    private readonly sizes: WarmPoolSizes,
    private readonly logger: Logger,
    /** Called when a template's ready count goes from 0 to more or back (the heartbeat reports it). */
    private readonly onAvailabilityChange: () => void = () => {},
  ) {}

  /** The configured size for `template` (by id, then name, then the default for others). */
  sizeOf(template: WarmTemplate): number {
    const { perTemplate, others } = this.sizes;
    return perTemplate[template.templateId] ?? perTemplate[template.templateName] ?? others;
  }

  /** A create is starting: refills wait until none is in flight. */
  beginCreate(): void {
    this.inflight++;
  }

  /**
   * A create answered (or failed): `template` joins the pool (or is given another try) and, once
   * the answer is on its way (next turn of the event loop), a refill may start.
   */
  endCreate(template?: WarmTemplate): void {
    this.inflight = Math.max(0, this.inflight - 1);
    this.pendingKicks++;
    setImmediate(() => {
      this.pendingKicks--;
      if (this.inflight === 0) for (const wake of this.quietWaiters.splice(0)) wake();
      if (template) this.noteCreate(template);
      else this.kick();
      this.settle();
    });
  }

  /**
   * Registers `template` (a create used it, or start-up prepared it) and starts filling its
   * pool; a template whose last refill failed is given another try.
   */
  noteCreate(template: WarmTemplate): void {
    if (this.closed) return;
    const key = keyOf(template.teamId, template.templateId);
    const target = this.sizeOf(template);
    const slot = this.slots.get(key);
    if (slot) {
      slot.failed = false;
      slot.target = target;
    } else if (target > 0) {
      this.slots.set(key, { template, target, ready: [], starting: 0, epoch: 0, failed: false, memoryMb: 0 });
    }
    this.kick();
  }

  /**
   * Takes a ready VM of the template that fits `want` (same generation and disk size; vCPUs and
   * memory, when asked for, the VM's), or undefined. Ready VMs of an older generation (the
   * template was captured again) or whose process ended are stale: they are destroyed.
   */
  take(teamId: string, templateId: string, want: WarmRequest): T | undefined {
    const slot = this.slots.get(keyOf(teamId, templateId));
    if (!slot || this.closed) return undefined;
    const stale = slot.ready.filter((vm) => !vm.alive || vm.generationDir !== want.generationDir);
    if (stale.length > 0) {
      slot.ready = slot.ready.filter((vm) => !stale.includes(vm));
      for (const vm of stale) void this.backend.destroy(vm);
    }
    const index = slot.ready.findIndex(
      (vm) =>
        vm.diskSizeMb === want.diskSizeMb &&
        (!want.vcpus || want.vcpus === vm.vcpus) &&
        (!want.memoryMb || want.memoryMb === vm.memoryMb),
    );
    if (index < 0) {
      if (stale.length > 0) this.onAvailabilityChange();
      return undefined;
    }
    const [vm] = slot.ready.splice(index, 1);
    if (slot.ready.length === 0) this.onAvailabilityChange();
    return vm;
  }

  /** Destroys the template's warm VMs (deleted or overwritten); a VM still starting follows when up. */
  async drain(teamId: string, templateId: string): Promise<void> {
    const slot = this.slots.get(keyOf(teamId, templateId));
    if (!slot) return;
    this.slots.delete(keyOf(teamId, templateId));
    slot.epoch++;
    const vms = slot.ready.splice(0);
    await Promise.all(vms.map((vm) => this.backend.destroy(vm)));
    if (vms.length > 0) this.onAvailabilityChange();
  }

  /** Stops refilling, waits for a start in progress and destroys every warm VM (agent shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.quietWaiters.splice(0)) wake();
    await this.worker;
    const vms = [...this.slots.values()].flatMap((slot) => slot.ready.splice(0));
    this.slots.clear();
    await Promise.all(vms.map((vm) => this.backend.destroy(vm)));
  }

  /** Per template: ready and starting VMs and the memory they hold (the heartbeat's pool report). */
  report(): WarmPoolEntry[] {
    return [...this.slots.values()].map((slot) => ({
      ...slot.template,
      ready: slot.ready.length,
      starting: slot.starting,
      memoryMb: (slot.ready.length + slot.starting) * slot.memoryMb,
    }));
  }

  /** Template generations warm VMs depend on (their disks' backing files): not to be collected. */
  generations(): Set<string> {
    return new Set([...this.slots.values()].flatMap((slot) => slot.ready.map((vm) => vm.generationDir)));
  }

  /** The ready VMs (for memory figures and tests). */
  readyVms(): T[] {
    return [...this.slots.values()].flatMap((slot) => slot.ready);
  }

  /** Resolves once no refill is running or due (tests and benchmarks poll the pool with this). */
  whenIdle(): Promise<void> {
    if (!this.worker && this.pendingKicks === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settle(): void {
    if (!this.worker && this.pendingKicks === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private kick(): void {
    if (this.closed || this.worker || !this.nextDue()) return;
    this.worker = this.run().finally(() => {
      this.worker = undefined;
      if (!this.closed && this.nextDue()) this.kick();
      this.settle();
    });
  }

  private nextDue(): Slot<T> | undefined {
    return [...this.slots.values()].find((s) => !s.failed && s.ready.length + s.starting < s.target);
  }

  /** Refills one VM at a time, each only while no create is in flight. */
  private async run(): Promise<void> {
    for (;;) {
      while (this.inflight > 0 && !this.closed) {
        await new Promise<void>((resolve) => this.quietWaiters.push(resolve));
      }
      const slot = this.closed ? undefined : this.nextDue();
      if (!slot) return;
      await this.startOne(slot);
    }
  }

  private async startOne(slot: Slot<T>): Promise<void> {
    const epoch = slot.epoch;
    const poolId = `${WARM_DIR_PREFIX}${process.pid.toString(36)}-${(this.seq++).toString(36)}`;
    slot.starting++;
    let vm: T;
    try {
      vm = await this.backend.start(slot.template, poolId);
    } catch (err) {
      slot.failed = true;
      this.logger.warn({ err, templateId: slot.template.templateId }, "warm pool refill failed");
      return;
    } finally {
      slot.starting--;
    }
    const current = this.slots.get(keyOf(slot.template.teamId, slot.template.templateId));
    if (this.closed || current !== slot || slot.epoch !== epoch) {
      await this.backend.destroy(vm);
      return;
    }
    slot.memoryMb = vm.memoryMb;
    slot.ready.push(vm);
    if (slot.ready.length === 1) this.onAvailabilityChange();
  }
}
