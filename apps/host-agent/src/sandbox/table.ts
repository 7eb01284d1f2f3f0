import { stat } from "node:fs/promises";
import { join } from "node:path";
import { assertSafeName, errors, isWrennError, type Logger } from "@wrenn/common";
import type { EnvdClient } from "../envd-client/client.ts";
import type { TemplateImageSource, TemplateStore } from "../snapshot/templates.ts";
import { type DataLayout, SANDBOX_FILES } from "../storage/layout.ts";
import { guestNetKernelArgs, type NetworkLease, type NetworkProvider } from "../vmm/network-attachment.ts";
import type { VmInstance, Vmm } from "../vmm/types.ts";
import { KeyedLock } from "./keyed-lock.ts";
import type { SandboxRecord, SandboxView } from "./types.ts";
import type { WarmPoolSizes } from "./warm-pool.ts";

/** Limits and defaults of the sandbox manager. */
export interface SandboxLimits {
  /** vCPUs and memory of templates captured from an image. */
  templateVcpus: number;
  templateMemoryMb: number;
  /** Disk size when a request names none, and the size base templates are captured with. */
  defaultDiskSizeMb: number;
  maxDiskSizeMb: number;
  maxVcpus: number;
  maxMemoryMb: number;
  /** How long to wait for envd after a restore. */
  envdTimeoutMs: number;
}

/** Defaults for {@link SandboxLimits}. */
export const DEFAULT_LIMITS: SandboxLimits = {
  templateVcpus: 1,
  templateMemoryMb: 512,
  defaultDiskSizeMb: 5120,
  maxDiskSizeMb: 256 * 1024,
  maxVcpus: 64,
  maxMemoryMb: 256 * 1024,
  envdTimeoutMs: 60_000,
};

/** Callbacks into the parts that live beside the manager (port proxy, metrics). */
export interface SandboxHooks {
  /** Before a pause: drain the sandbox's proxy connections (with a grace period). */
  beforePause?(sandboxId: string): Promise<void>;
  /** A VM started (create or resume): begin sampling `pid`. */
  onVmStarted?(sandboxId: string, pid: number, diskPath: string): void;
  /** The VM is gone (pause or destroy). */
  onVmStopped?(sandboxId: string): void;
  /** The sandbox is gone for good: drop its metrics and connections. */
  onDestroyed?(sandboxId: string): void;
  /** A template's warm pool became available or ran empty (worth a heartbeat now). */
  onWarmPoolChanged?(): void;
}

/** Everything the manager needs. */
export interface SandboxManagerOptions {
  layout: DataLayout;
  vmm: Vmm;
  templates: TemplateStore;
  network: NetworkProvider;
  /** The guest image base templates (`minimal`, …) are captured from. */
  guestImage: () => Promise<TemplateImageSource>;
  logger: Logger;
  limits?: Partial<SandboxLimits> | undefined;
  /** Template ids that stand for the guest image itself. */
  baseTemplateIds?: string[];
  hooks?: SandboxHooks;
  /** Warm VMs to keep per template (`warm-pool.ts`); none when absent. */
  warmPool?: WarmPoolSizes | undefined;
  /**
   * A fork's source runs while its RAM is written, where the VMM can do that (its RAM on a
   * tmpfs or anonymous; `WRENN_FORK_BACKGROUND_SAVE=1`): stopped tens of milliseconds instead
   * of the whole save, for a first fork that answers later (bench/README.md, "Background saves").
   */
  forkBackgroundSave?: boolean | undefined;
}

/** One sandbox this host knows: its record and, while its VM runs, the live parts. */
/** A pause state's reduction running in the background (see pause-resume.ts). */
export interface PauseReduction {
  /** Settles (never rejects) when the reduction ended: done, failed or stopped. */
  ended: Promise<void>;
  /** True once `ended` settled. */
  settled: boolean;
  /** Stops it (a resume that will not wait, a destroy). */
  stop: AbortController;
}

export interface SandboxEntry {
  record: SandboxRecord;
  vm?: VmInstance | undefined;
  lease?: NetworkLease | undefined;
  envd?: EnvdClient | undefined;
  /** A paused sandbox's state being reduced to its changed pages (pause-resume.ts). */
  pauseReduce?: PauseReduction | undefined;
}

/**
 * The sandboxes of this host and what every lifecycle step (create, pause/resume, destroy,
 * recovery) shares: the options, the limits, the per-sandbox lock and the lookups that turn an
 * id into an entry or a client-safe error.
 */
export class SandboxTable {
  /** Sandboxes by id, in any state. */
  readonly entries = new Map<string, SandboxEntry>();
  /** Serializes the operations on one sandbox. */
  readonly lock = new KeyedLock();
  readonly limits: SandboxLimits;
  /** Template ids that stand for the guest image itself. */
  readonly baseTemplateIds: Set<string>;
  /** Kernel command line of templates captured from the guest image. */
  readonly kernelArgs = `quiet rootfstype=ext4 ${guestNetKernelArgs()}`;

  constructor(readonly options: SandboxManagerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.baseTemplateIds = new Set(options.baseTemplateIds ?? ["minimal"]);
  }

  /** The manager's logger. */
  get logger(): Logger {
    return this.options.logger;
  }

  /** The run directory of sandbox `id` (record, disk, pause state). */
  sandboxDir(id: string): string {
    return this.options.layout.sandboxDir(id);
  }

  /** The disk overlay of sandbox `id`. */
  diskPath(id: string): string {
    return join(this.sandboxDir(id), SANDBOX_FILES.disk);
  }

  /** The entry of `id` (any state); not_found when unknown. */
  find(id: string): SandboxEntry {
    const entry = this.entries.get(id);
    if (!entry) throw errors.notFound(`sandbox ${id} not found`);
    return entry;
  }

  /** The entry of a running sandbox; failed_precondition naming `what` otherwise. */
  running(id: string, what: string): SandboxEntry {
    const entry = this.find(id);
    if (entry.record.state !== "running") {
      throw errors.failedPrecondition(`cannot ${what} sandbox ${id}: it is ${entry.record.state}`);
    }
    return entry;
  }

  /** Runs `fn` holding the lock of the sandbox `sandboxId` names (validated first: a bad name rejects). */
  async locked<T>(sandboxId: string, fn: (id: string) => Promise<T>): Promise<T> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    return this.lock.run(id, () => fn(id));
  }

  /** Network releases still running in the background (see {@link releaseLater}). */
  private readonly releasing = new Set<Promise<void>>();

  /** Releases `lease` in the background (a paused sandbox's slot); {@link settled} waits for it. */
  releaseLater(sandboxId: string, lease: NetworkLease | undefined): void {
    if (!lease) return;
    const done: Promise<void> = lease
      .release()
      .catch((err) => this.logger.warn({ err, sandboxId }, "network release failed"))
      .finally(() => this.releasing.delete(done));
    this.releasing.add(done);
  }

  /** Resolves once every background network release has finished (shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.releasing]);
  }

  /** Generations VMs outside the table depend on (the warm pool's); set by the manager. */
  heldGenerations: () => Iterable<string> = () => [];

  /** Generation directories sandboxes (and warm VMs) still depend on (their disks' backing files live there). */
  generationsInUse(): Set<string> {
    return new Set([
      ...[...this.entries.values()].map((e) => e.record.generationDir),
      ...this.heldGenerations(),
    ]);
  }

  /** Client-safe error: WrennErrors pass through, anything else becomes `internal` with the cause logged. */
  failure(err: unknown, message: string): Error {
    if (isWrennError(err)) return err;
    this.logger.error({ err }, message);
    return errors.internal(message, err);
  }

  /** The read-only view of `entry` the RPC layer and the proxy see. */
  view(entry: SandboxEntry): SandboxView {
    return {
      ...entry.record,
      pid: entry.vm?.pid,
      diskPath: this.diskPath(entry.record.id),
      guestHost: entry.lease?.attachment.guestHost,
    };
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
