import { assertSafeName, type EgressPolicy, errors } from "@wrenn/common";
import type { EnvdClient } from "../envd-client/client.ts";
import { PLATFORM_TEAM_ID } from "../storage/layout.ts";
import type { NetworkLease, NetworkProvider } from "../vmm/network-attachment.ts";
import type { VmInstance } from "../vmm/types.ts";
import { createSandbox } from "./create.ts";
import { destroySandbox, shutdownSandboxes } from "./destroy.ts";
import { updateSandboxEgress } from "./egress.ts";
import { type ForkResult, type ForkTarget, forkSandbox } from "./fork.ts";
import { collectForkCaptures } from "./fork-captures.ts";
import { pauseAllSandboxes, pauseIfIdle, pauseSandbox, resumeSandbox } from "./pause-resume.ts";
import { saveRecord } from "./records.ts";
import { type RecoveryReport, recoverSandboxes } from "./recover.ts";
import { prepareBaseTemplates } from "./restore.ts";
import { type SandboxManagerOptions, SandboxTable } from "./table.ts";
import { applyPing, checkTimeoutSec, isIdle } from "./ttl.ts";
import type { SandboxRecord, SandboxSpec, SandboxView } from "./types.ts";
import { NO_WARM_POOL, WarmPool, type WarmPoolEntry, type WarmTemplate } from "./warm-pool.ts";
import { type WarmVm, WarmVmBackend } from "./warm-vm.ts";

export {
  DEFAULT_LIMITS,
  type SandboxHooks,
  type SandboxLimits,
  type SandboxManagerOptions,
} from "./table.ts";

/** What {@link SandboxManager.withSandbox} hands template operations, under the sandbox's lock. */
export interface LockedSandbox {
  record: SandboxRecord;
  vm: VmInstance | undefined;
  dir: string;
  lease: NetworkLease | undefined;
  envd: EnvdClient | undefined;
}

/**
 * Owns the sandboxes on this host: create (always from a template snapshot),
 * destroy, pause (state to disk, no process), resume, ping, listing, PauseAll,
 * and the guest's envd for files and processes. Operations on one sandbox are
 * serialized. Each lifecycle lives in its own module (create.ts, pause-resume.ts,
 * destroy.ts, recover.ts; templates from sandboxes in template-ops.ts) over one
 * {@link SandboxTable}; this class is their front.
 */
export class SandboxManager {
  private readonly table: SandboxTable;
  private readonly lost: string[] = [];

  private readonly warmVms: WarmVmBackend;
  private readonly pool: WarmPool<WarmVm>;

  constructor(options: SandboxManagerOptions) {
    this.table = new SandboxTable(options);
    this.warmVms = new WarmVmBackend(this.table);
    this.pool = new WarmPool(this.warmVms, options.warmPool ?? NO_WARM_POOL, options.logger, () =>
      options.hooks?.onWarmPoolChanged?.(),
    );
    this.table.heldGenerations = () => this.pool.generations();
  }

  /** Ids of sandboxes a previous agent run left running; they are gone (reported once at start-up). */
  get lostSandboxIds(): readonly string[] {
    return this.lost;
  }

  /** Start-up recovery (see {@link recoverSandboxes}). */
  async recover(): Promise<RecoveryReport> {
    const report = await recoverSandboxes(this.table);
    // Captures of forks that are all gone, or that a crash left half-made.
    await collectForkCaptures(this.table);
    this.lost.push(...report.lost);
    return { ...report, lost: [...this.lost] };
  }

  /**
   * Creates a sandbox from a template snapshot and waits until its envd answers: a warm VM of
   * the template when the pool has one that fits, else a restore of its own. The template's
   * pool is refilled in the background once the answer is on its way.
   */
  async create(spec: SandboxSpec): Promise<SandboxView> {
    this.pool.beginCreate();
    let used: WarmTemplate | undefined;
    try {
      const view = await createSandbox(this.table, spec, (checked, wanted, snap) => {
        const warm = this.pool.take(checked.templateTeamId, checked.templateId, {
          generationDir: snap.dir,
          diskSizeMb: checked.diskSizeMb,
          vcpus: wanted.vcpus,
          memoryMb: wanted.memoryMb,
        });
        return warm ? this.warmVms.handOver(warm, checked.id) : Promise.resolve(undefined);
      });
      used = { teamId: view.templateTeamId, templateId: view.templateId, templateName: view.templateName };
      return view;
    } finally {
      this.pool.endCreate(used);
    }
  }

  /** Per template: warm VMs ready or starting and the memory they hold (heartbeat report). */
  warmPool(): WarmPoolEntry[] {
    return this.pool.report();
  }

  /** Resolves once the warm pool has no refill running or due (tests, benchmarks). */
  warmPoolIdle(): Promise<void> {
    return this.pool.whenIdle();
  }

  /** Destroys the warm VMs of a template (deleted or overwritten). */
  drainWarmPool(teamId: string, templateId: string): Promise<void> {
    return this.pool.drain(teamId, templateId);
  }

  /** Stops refilling and destroys every warm VM (agent shutdown, also when sandboxes stay running). */
  closeWarmPool(): Promise<void> {
    return this.pool.close();
  }

  /** Resolves once the network releases paused sandboxes left running in the background are done. */
  settled(): Promise<void> {
    return this.table.settled();
  }

  /**
   * Forks a running sandbox into one new sandbox per target (see {@link forkSandbox}).
   * `backgroundSave` overrides the host's `forkBackgroundSave` for this call (benchmarks).
   */
  fork(
    sourceId: string,
    targets: ForkTarget[],
    options: { backgroundSave?: boolean } = {},
  ): Promise<ForkResult> {
    return forkSandbox(this.table, sourceId, targets, options);
  }

  /** Stops the VM (if any) and deletes everything the sandbox holds on this host. */
  destroy(sandboxId: string): Promise<void> {
    return destroySandbox(this.table, sandboxId);
  }

  /** Pauses a running sandbox (state to disk, no process); answers the bytes the pause state takes. */
  pause(sandboxId: string, auto = false): Promise<number> {
    return pauseSandbox(this.table, sandboxId, auto);
  }

  /** The TTL reaper's pause, only if the sandbox is still idle at `now()` (see {@link pauseIfIdle}). */
  pauseIfIdle(sandboxId: string, now: () => number): Promise<boolean> {
    return pauseIfIdle(this.table, sandboxId, now);
  }

  /** Restores a paused sandbox; its inactivity timeout is set anew from `timeoutSec`. */
  resume(sandboxId: string, timeoutSec: number): Promise<SandboxView> {
    return resumeSandbox(this.table, sandboxId, timeoutSec);
  }

  /** Replaces the egress policy of a running or paused sandbox (see {@link updateSandboxEgress}). */
  updateEgress(sandboxId: string, policy: EgressPolicy): Promise<SandboxView> {
    return updateSandboxEgress(this.table, sandboxId, policy);
  }

  /** Pauses every running sandbox (marked auto-paused), reporting per-sandbox failures. */
  pauseAll(): Promise<{ paused: string[]; failures: { sandboxId: string; message: string }[] }> {
    return pauseAllSandboxes(this.table);
  }

  /**
   * Marks a running sandbox active now, restarting its inactivity countdown.
   * With `timeoutSec` the timeout is replaced in the same step (0 = never) and
   * saved, so a restarted agent that takes the VM over keeps it.
   */
  async ping(sandboxId: string, timeoutSec?: number): Promise<SandboxView> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    if (timeoutSec === undefined) {
      const entry = this.table.running(id, "ping");
      applyPing(entry.record, new Date());
      return this.table.view(entry);
    }
    checkTimeoutSec(timeoutSec);
    // Under the lock: the record file is rewritten, and a pause in progress must finish first.
    return this.table.lock.run(id, async () => {
      const entry = this.table.running(id, "set the timeout of");
      applyPing(entry.record, new Date(), timeoutSec);
      await saveRecord(this.table.options.layout, entry.record);
      this.table.logger.debug({ sandboxId: id, timeoutSec }, "inactivity timeout changed");
      return this.table.view(entry);
    });
  }

  /** Records activity without checks (used by the RPC layer and the port proxy). */
  touch(sandboxId: string): void {
    const entry = this.table.entries.get(sandboxId);
    if (entry) entry.record.lastActiveAt = new Date().toISOString();
  }

  /** Sandboxes with a VM on this host, and the ids this agent paused on its own. */
  list(): { sandboxes: SandboxView[]; autoPausedIds: string[] } {
    const sandboxes: SandboxView[] = [];
    const autoPausedIds: string[] = [];
    for (const entry of this.table.entries.values()) {
      if (entry.record.state === "paused") {
        if (entry.record.autoPaused) autoPausedIds.push(entry.record.id);
      } else {
        sandboxes.push(this.table.view(entry));
      }
    }
    return { sandboxes, autoPausedIds };
  }

  /** One sandbox (any state); not_found when unknown. */
  get(sandboxId: string): SandboxView {
    return this.table.view(this.table.find(assertSafeName(sandboxId, "sandbox_id")));
  }

  /**
   * The envd client of a running sandbox, for files, processes and terminals.
   * not_found for unknown ids, failed_precondition unless running. Counts as activity.
   */
  envd(sandboxId: string): EnvdClient {
    const entry = this.table.running(assertSafeName(sandboxId, "sandbox_id"), "use");
    if (!entry.envd) throw errors.failedPrecondition(`sandbox ${sandboxId} is not ready`);
    this.touch(sandboxId);
    return entry.envd;
  }

  /** Ids of running sandboxes whose inactivity exceeded their timeout (for the reaper). */
  idleSandboxIds(now = Date.now()): string[] {
    return [...this.table.entries.values()].filter((e) => isIdle(e.record, now)).map((e) => e.record.id);
  }

  /** Ends every VM (warm ones included) without deleting state (agent shutdown). Paused sandboxes stay paused. */
  async shutdown(): Promise<void> {
    await this.pool.close();
    await shutdownSandboxes(this.table);
  }

  // ---- used by template operations ----

  /** Runs `fn` holding the sandbox's lock, with its entry (running or paused). */
  withSandbox<T>(sandboxId: string, fn: (sandbox: LockedSandbox) => Promise<T>): Promise<T> {
    return this.table.locked(sandboxId, async (id) => {
      const { record, vm, lease, envd } = this.table.find(id);
      return fn({ record, vm, dir: this.table.sandboxDir(id), lease, envd });
    });
  }

  /** The network provider (template operations need an attachment for helper VMs). */
  get network(): NetworkProvider {
    return this.table.options.network;
  }

  /** The guest image that image templates boot from (an OCI image import puts its runtime in). */
  guestImage(): ReturnType<SandboxManagerOptions["guestImage"]> {
    return this.table.options.guestImage();
  }

  /** Generation directories sandboxes still depend on (their disks' backing files live there). */
  generationsInUse(): Set<string> {
    return this.table.generationsInUse();
  }

  /**
   * Captures (or finds) the snapshot of every base template, so no create waits for a cold
   * boot, then starts filling their warm pools.
   */
  async prepareBaseTemplates(): Promise<void> {
    await prepareBaseTemplates(this.table);
    for (const templateId of this.table.baseTemplateIds) {
      this.pool.noteCreate({ teamId: PLATFORM_TEAM_ID, templateId, templateName: templateId });
    }
  }
}
