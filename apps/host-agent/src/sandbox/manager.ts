import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { assertSafeName, errors, isWrennError, type Logger } from "@wrenn/common";
import { EnvdClient } from "../envd-client/client.ts";
import { assertCompatible } from "../snapshot/metadata.ts";
import type { TemplateImageSource, TemplateSnapshot, TemplateStore } from "../snapshot/templates.ts";
import { allocatedBytes, createOverlay, MIB } from "../storage/disk.ts";
import { type DataLayout, PLATFORM_TEAM_ID, SANDBOX_FILES } from "../storage/layout.ts";
import { guestNetKernelArgs, type NetworkLease, type NetworkProvider } from "../vmm/network-attachment.ts";
import type { VmInstance, Vmm, VmSpec } from "../vmm/types.ts";
import { adoptSandbox, runtimeOf } from "./adopt.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { killOrphanVmm, removeIncompleteCaptures } from "./orphans.ts";
import { PhaseTimer } from "./phase-timer.ts";
import { loadRecord, sandboxDirNames, saveRecord } from "./records.ts";
import { applyPing, checkTimeoutSec, isIdle } from "./ttl.ts";
import type { CreateSandboxInput, SandboxRecord, SandboxView } from "./types.ts";

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
  limits?: Partial<SandboxLimits>;
  /** Template ids that stand for the guest image itself. */
  baseTemplateIds?: string[];
  hooks?: SandboxHooks;
}

interface Entry {
  record: SandboxRecord;
  vm?: VmInstance | undefined;
  lease?: NetworkLease | undefined;
  envd?: EnvdClient | undefined;
}

/**
 * Owns the sandboxes on this host: create (always from a template snapshot),
 * destroy, pause (state to disk, no process), resume, ping, listing, PauseAll,
 * and making templates from sandboxes. Operations on one sandbox are serialized.
 */
export class SandboxManager {
  private readonly entries = new Map<string, Entry>();
  private readonly lock = new KeyedLock();
  private readonly limits: SandboxLimits;
  private readonly baseTemplateIds: Set<string>;
  private readonly lost: string[] = [];
  private readonly kernelArgs = `quiet rootfstype=ext4 ${guestNetKernelArgs()}`;

  constructor(private readonly o: SandboxManagerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.baseTemplateIds = new Set(o.baseTemplateIds ?? ["minimal"]);
  }

  /** Ids of sandboxes a previous agent run left running; they are gone (reported once at start-up). */
  get lostSandboxIds(): readonly string[] {
    return this.lost;
  }

  /**
   * Start-up recovery: takes over sandboxes whose VM survived the previous run
   * (same process, QMP and envd answering, network slot kept), keeps paused
   * sandboxes (their state is on disk), ends any other VMM process a crashed
   * run left behind and removes those sandboxes, reporting them as lost. Also
   * removes incomplete template captures.
   */
  async recover(): Promise<{ lost: string[]; adopted: string[]; paused: string[]; killedPids: number[] }> {
    await mkdir(this.o.layout.sandboxesDir, { recursive: true });
    const paused: string[] = [];
    const adopted: string[] = [];
    const killedPids: number[] = [];
    for (const name of await sandboxDirNames(this.o.layout)) {
      const dir = join(this.o.layout.sandboxesDir, name);
      const survivor = await loadRecord(dir);
      if (survivor && survivor.id === name) {
        const live = await adoptSandbox(survivor, dir, this.o).catch((err: unknown) => {
          this.o.logger.warn({ err, sandboxId: name }, "taking over a surviving VM failed");
          return undefined;
        });
        if (live) {
          // The agent was down: whatever activity happened then is unknown, so the TTL starts anew.
          survivor.lastActiveAt = new Date().toISOString();
          survivor.autoPaused = false;
          this.entries.set(name, { record: survivor, ...live });
          await saveRecord(this.o.layout, survivor);
          this.o.hooks?.onVmStarted?.(name, live.vm.pid, join(dir, SANDBOX_FILES.disk));
          adopted.push(name);
          continue;
        }
      }
      const killed = await killOrphanVmm(dir, name);
      if (killed) killedPids.push(killed);
      const record = await loadRecord(dir);
      const hasState = await exists(join(dir, SANDBOX_FILES.pauseState));
      if (record && record.id === name && record.state === "paused" && hasState) {
        this.entries.set(name, { record });
        paused.push(name);
        continue;
      }
      await rm(dir, { recursive: true, force: true });
      this.lost.push(name);
    }
    killedPids.push(...(await removeIncompleteCaptures(this.o.layout.root)));
    if (adopted.length > 0) this.o.logger.info({ adopted }, "took over sandboxes that survived the agent");
    if (this.lost.length > 0 || killedPids.length > 0) {
      this.o.logger.warn(
        { lost: this.lost, killedPids },
        "sandboxes lost by a previous agent run were cleaned up",
      );
    }
    return { lost: [...this.lost], adopted, paused, killedPids };
  }

  /** Creates a sandbox from a template snapshot and waits until its envd answers. */
  async create(input: CreateSandboxInput): Promise<SandboxView> {
    const id = assertSafeName(input.sandboxId, "sandbox_id");
    const teamId = assertSafeName(input.teamId, "team_id");
    const templateId = assertSafeName(input.templateId, "template_id");
    const templateTeamId = assertSafeName(input.templateTeamId || PLATFORM_TEAM_ID, "template_team_id");
    const diskSizeMb = input.diskSizeMb || this.limits.defaultDiskSizeMb;
    this.checkSizes(diskSizeMb, input.vcpus ?? 0, input.memoryMb ?? 0);
    return this.lock.run(id, async () => {
      if (this.entries.has(id) || (await exists(this.o.layout.sandboxDir(id)))) {
        throw errors.alreadyExists(`sandbox ${id} already exists`);
      }
      const snap = await this.templateSnapshot(templateTeamId, templateId);
      assertCompatible(
        snap.meta,
        await this.o.vmm.fingerprint(),
        this.o.network.kind,
        `template ${input.templateName || templateId}`,
      );
      const diskBytes = diskSizeMb * MIB;
      if (diskBytes < snap.meta.diskBytes) {
        throw errors.invalidArgument(
          `disk_size_mb must be at least the template's ${Math.ceil(snap.meta.diskBytes / MIB)} MB`,
        );
      }
      const now = new Date().toISOString();
      const entry: Entry = {
        record: {
          id,
          teamId,
          templateId,
          templateTeamId,
          templateName: input.templateName ?? templateId,
          generationDir: snap.dir,
          vcpus: snap.meta.vcpus,
          memoryMb: snap.meta.memoryMb,
          diskSizeMb,
          timeoutSec: input.timeoutSec ?? 0,
          metadata: { ...input.metadata },
          envs: { ...input.envs },
          accessToken: input.envdAccessToken || undefined,
          state: "starting",
          autoPaused: false,
          envdVersion: snap.meta.envdVersion,
          createdAt: now,
          lastActiveAt: now,
          networkKind: this.o.network.kind,
        },
      };
      this.entries.set(id, entry);
      const dir = this.o.layout.sandboxDir(id);
      const phases = new PhaseTimer();
      try {
        await mkdir(dir, { recursive: true });
        // Disk and network do not depend on each other: set them up side by side.
        const [disk, network] = await Promise.allSettled([
          createOverlay(snap.rootfs, "raw", join(dir, SANDBOX_FILES.disk), diskBytes).then(() =>
            saveRecord(this.o.layout, entry.record),
          ),
          this.o.network.acquire(id),
        ]);
        if (network.status === "fulfilled") entry.lease = network.value;
        if (disk.status === "rejected") throw disk.reason;
        if (network.status === "rejected") throw network.reason;
        entry.lease = network.value;
        phases.mark("disk+network");
        entry.vm = await this.o.vmm.restore(
          this.vmSpec(entry, snap, { kind: "file-private", path: snap.memory }),
          { kind: "template", stateFile: snap.state },
        );
        phases.mark("restore");
        await this.connectEnvd(entry, entry.vm, snap.meta.envdAccessToken);
        phases.mark("envd");
        if (diskBytes > snap.meta.diskBytes) await this.growGuestDisk(entry, diskBytes);
        this.o.logger.debug({ sandboxId: id, ms: phases.result() }, "sandbox created");
        entry.record.state = "running";
        // The inactivity clock starts when the sandbox is usable, not when its creation began.
        entry.record.lastActiveAt = new Date().toISOString();
        entry.record.runtime = await runtimeOf(entry.vm, entry.lease);
        await saveRecord(this.o.layout, entry.record);
        this.o.hooks?.onVmStarted?.(id, entry.vm.pid, join(dir, SANDBOX_FILES.disk));
        return this.view(entry);
      } catch (err) {
        await this.teardown(entry);
        this.entries.delete(id);
        throw this.failure(err, `sandbox ${id} failed to start`);
      }
    });
  }

  /** Stops the VM (if any) and deletes everything the sandbox holds on this host. */
  async destroy(sandboxId: string): Promise<void> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    await this.lock.run(id, async () => {
      const entry = this.entries.get(id);
      if (!entry) throw errors.notFound(`sandbox ${id} not found`);
      entry.record.state = "stopping";
      await this.teardown(entry);
      this.entries.delete(id);
      this.o.hooks?.onDestroyed?.(id);
      await this.collectTemplateGarbage(entry.record);
      this.o.logger.info({ sandboxId: id }, "sandbox destroyed");
    });
  }

  /**
   * Pauses a running sandbox: drains proxy connections, writes RAM + device
   * state next to its disk and ends the VM process. Returns the bytes the pause
   * state takes on disk.
   */
  async pause(sandboxId: string, auto = false): Promise<number> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    return this.lock.run(id, () => this.pauseLocked(id, auto));
  }

  /**
   * The TTL reaper's pause: decides under the sandbox's lock whether it is still
   * idle at `now()`, because a ping or a new timeout may have arrived since the
   * sweep listed it. Returns false (and leaves it alone) when it is not.
   */
  async pauseIfIdle(sandboxId: string, now: () => number): Promise<boolean> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    return this.lock.run(id, async () => {
      const entry = this.entries.get(id);
      if (!entry || !isIdle(entry.record, now())) return false;
      await this.pauseLocked(id, true);
      return true;
    });
  }

  private async pauseLocked(id: string, auto: boolean): Promise<number> {
    const entry = this.running(id, "pause");
    const vm = entry.vm;
    if (!vm) throw errors.failedPrecondition(`sandbox ${id} has no VM`);
    const dir = this.o.layout.sandboxDir(id);
    const stateFile = join(dir, SANDBOX_FILES.pauseState);
    entry.record.state = "pausing";
    try {
      await this.o.hooks?.beforePause?.(id);
      await this.o.vmm.saveFull(vm, stateFile);
    } catch (err) {
      entry.record.state = vm.alive ? "running" : "error";
      await rm(stateFile, { force: true });
      throw this.failure(err, `sandbox ${id} could not be paused`);
    }
    this.o.hooks?.onVmStopped?.(id);
    entry.vm = undefined;
    entry.envd = undefined;
    await entry.lease
      ?.release()
      .catch((err) => this.o.logger.warn({ err, sandboxId: id }, "network release failed"));
    entry.lease = undefined;
    entry.record.state = "paused";
    entry.record.autoPaused = auto;
    entry.record.runtime = undefined;
    await saveRecord(this.o.layout, entry.record);
    return (await allocatedBytes(stateFile)) + (await allocatedBytes(join(dir, SANDBOX_FILES.disk)));
  }

  /** Restores a paused sandbox; its inactivity timeout is set anew from `timeoutSec`. */
  async resume(sandboxId: string, timeoutSec: number): Promise<SandboxView> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    return this.lock.run(id, async () => {
      const entry = this.entries.get(id);
      if (!entry) throw errors.notFound(`sandbox ${id} not found`);
      if (entry.record.state !== "paused") {
        throw errors.failedPrecondition(`sandbox ${id} is ${entry.record.state}, not paused`);
      }
      if (entry.record.networkKind !== this.o.network.kind) {
        throw errors.failedPrecondition(
          `sandbox ${id} was paused with ${entry.record.networkKind} networking; this agent uses ${this.o.network.kind}`,
        );
      }
      const snap = await this.o.templates.openGeneration(entry.record.generationDir);
      if (!snap) throw errors.failedPrecondition(`the template sandbox ${id} was started from is gone`);
      assertCompatible(
        snap.meta,
        await this.o.vmm.fingerprint(),
        this.o.network.kind,
        `paused sandbox ${id}`,
      );
      const stateFile = join(this.o.layout.sandboxDir(id), SANDBOX_FILES.pauseState);
      entry.record.state = "starting";
      try {
        const phases = new PhaseTimer();
        entry.lease = await this.o.network.acquire(id);
        phases.mark("network");
        entry.vm = await this.o.vmm.restore(this.vmSpec(entry, snap, { kind: "anonymous" }), {
          kind: "full",
          stateFile,
        });
        phases.mark("restore");
        await this.connectEnvd(entry, entry.vm);
        phases.mark("envd");
        this.o.logger.debug({ sandboxId: id, ms: phases.result() }, "sandbox resumed");
      } catch (err) {
        await entry.vm?.kill();
        await entry.lease?.release().catch(() => {});
        entry.vm = undefined;
        entry.lease = undefined;
        entry.envd = undefined;
        entry.record.state = "paused";
        throw this.failure(err, `sandbox ${id} could not be resumed`);
      }
      await rm(stateFile, { force: true });
      entry.record.state = "running";
      entry.record.autoPaused = false;
      entry.record.timeoutSec = timeoutSec;
      entry.record.lastActiveAt = new Date().toISOString();
      entry.record.runtime = entry.lease ? await runtimeOf(entry.vm, entry.lease) : undefined;
      await saveRecord(this.o.layout, entry.record);
      this.o.hooks?.onVmStarted?.(id, entry.vm.pid, join(this.o.layout.sandboxDir(id), SANDBOX_FILES.disk));
      return this.view(entry);
    });
  }

  /**
   * Marks a running sandbox active now, restarting its inactivity countdown.
   * With `timeoutSec` the timeout is replaced in the same step (0 = never) and
   * saved, so a restarted agent that takes the VM over keeps it.
   */
  async ping(sandboxId: string, timeoutSec?: number): Promise<SandboxView> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    if (timeoutSec === undefined) {
      const entry = this.running(id, "ping");
      applyPing(entry.record, new Date());
      return this.view(entry);
    }
    checkTimeoutSec(timeoutSec);
    // Under the lock: the record file is rewritten, and a pause in progress must finish first.
    return this.lock.run(id, async () => {
      const entry = this.running(id, "set the timeout of");
      applyPing(entry.record, new Date(), timeoutSec);
      await saveRecord(this.o.layout, entry.record);
      this.o.logger.debug({ sandboxId: id, timeoutSec }, "inactivity timeout changed");
      return this.view(entry);
    });
  }

  /** Records activity without checks (used by the RPC layer and the port proxy). */
  touch(sandboxId: string): void {
    const entry = this.entries.get(sandboxId);
    if (entry) entry.record.lastActiveAt = new Date().toISOString();
  }

  /** Sandboxes with a VM on this host, and the ids this agent paused on its own. */
  list(): { sandboxes: SandboxView[]; autoPausedIds: string[] } {
    const sandboxes: SandboxView[] = [];
    const autoPausedIds: string[] = [];
    for (const entry of this.entries.values()) {
      if (entry.record.state === "paused") {
        if (entry.record.autoPaused) autoPausedIds.push(entry.record.id);
      } else {
        sandboxes.push(this.view(entry));
      }
    }
    return { sandboxes, autoPausedIds };
  }

  /** One sandbox (any state); not_found when unknown. */
  get(sandboxId: string): SandboxView {
    const entry = this.entries.get(assertSafeName(sandboxId, "sandbox_id"));
    if (!entry) throw errors.notFound(`sandbox ${sandboxId} not found`);
    return this.view(entry);
  }

  /** Pauses every running sandbox (marked auto-paused), reporting per-sandbox failures. */
  async pauseAll(): Promise<{ paused: string[]; failures: { sandboxId: string; message: string }[] }> {
    const paused: string[] = [];
    const failures: { sandboxId: string; message: string }[] = [];
    const running = [...this.entries.values()]
      .filter((e) => e.record.state === "running")
      .map((e) => e.record.id);
    for (const id of running) {
      try {
        await this.pause(id, true);
        paused.push(id);
      } catch (err) {
        failures.push({ sandboxId: id, message: isWrennError(err) ? err.message : "pause failed" });
      }
    }
    return { paused, failures };
  }

  /**
   * The envd client of a running sandbox, for proxying guest operations.
   * not_found for unknown ids, failed_precondition unless running. Counts as activity.
   */
  envd(sandboxId: string): EnvdClient {
    const entry = this.running(assertSafeName(sandboxId, "sandbox_id"), "use");
    if (!entry.envd) throw errors.failedPrecondition(`sandbox ${sandboxId} is not ready`);
    this.touch(sandboxId);
    return entry.envd;
  }

  /** Ids of running sandboxes whose inactivity exceeded their timeout (for the reaper). */
  idleSandboxIds(now = Date.now()): string[] {
    return [...this.entries.values()].filter((e) => isIdle(e.record, now)).map((e) => e.record.id);
  }

  /** Ends every VM without deleting state (agent shutdown in tests). Paused sandboxes stay paused. */
  async shutdown(): Promise<void> {
    for (const entry of this.entries.values()) {
      await entry.vm?.kill();
      await entry.lease?.release().catch(() => {});
    }
    this.entries.clear();
  }

  // ---- used by template operations ----

  /** Runs `fn` holding the sandbox's lock, with its entry (running or paused). */
  withSandbox<T>(
    sandboxId: string,
    fn: (entry: {
      record: SandboxRecord;
      vm: VmInstance | undefined;
      dir: string;
      lease: NetworkLease | undefined;
      envd: EnvdClient | undefined;
    }) => Promise<T>,
  ): Promise<T> {
    const id = assertSafeName(sandboxId, "sandbox_id");
    return this.lock.run(id, async () => {
      const entry = this.entries.get(id);
      if (!entry) throw errors.notFound(`sandbox ${id} not found`);
      return fn({
        record: entry.record,
        vm: entry.vm,
        dir: this.o.layout.sandboxDir(id),
        lease: entry.lease,
        envd: entry.envd,
      });
    });
  }

  /** The network provider (template operations need an attachment for helper VMs). */
  get network(): NetworkProvider {
    return this.o.network;
  }

  /** Generation directories sandboxes still depend on (their disks' backing files live there). */
  generationsInUse(): Set<string> {
    return new Set([...this.entries.values()].map((e) => e.record.generationDir));
  }

  /** Captures (or finds) the snapshot of every base template, so no create waits for a cold boot. */
  async prepareBaseTemplates(): Promise<void> {
    for (const id of this.baseTemplateIds) await this.templateSnapshot(PLATFORM_TEAM_ID, id);
  }

  // ---- internals ----

  private async templateSnapshot(teamId: string, templateId: string): Promise<TemplateSnapshot> {
    const source = this.baseTemplateIds.has(templateId)
      ? await this.o.guestImage()
      : await this.o.templates.imageSource(teamId, templateId);
    const snap = await this.o.templates.ensureSnapshot(
      teamId,
      templateId,
      source,
      {
        vcpus: this.limits.templateVcpus,
        memoryMb: this.limits.templateMemoryMb,
        diskBytes: this.limits.defaultDiskSizeMb * MIB,
        kernelArgs: this.kernelArgs,
        networkKind: this.o.network.kind,
      },
      (id) => this.o.network.acquire(id),
    );
    void this.o.templates
      .collectGarbage(teamId, templateId, this.generationsInUse())
      .catch((err) => this.o.logger.warn({ err }, "template cleanup failed"));
    return snap;
  }

  private vmSpec(entry: Entry, snap: TemplateSnapshot, memory: VmSpec["memory"]): VmSpec {
    if (!entry.lease) throw new Error("no network lease");
    return {
      id: entry.record.id,
      runDir: this.o.layout.sandboxDir(entry.record.id),
      kernel: snap.kernel,
      initrd: snap.initrd,
      kernelArgs: snap.meta.kernelArgs,
      rootDisk: {
        path: join(this.o.layout.sandboxDir(entry.record.id), SANDBOX_FILES.disk),
        format: "qcow2",
      },
      vcpus: snap.meta.vcpus,
      memoryMb: snap.meta.memoryMb,
      memory,
      network: entry.lease.attachment,
    };
  }

  /**
   * Hands envd the sandbox identity, env vars, token and the host clock as soon
   * as it answers (its answer is the readiness signal; the version is the one
   * recorded when the template was captured). `capturedToken` is the token a
   * template's envd already holds: `/init` presents it to replace it.
   */
  private async connectEnvd(entry: Entry, vm: VmInstance, capturedToken?: string): Promise<void> {
    if (!entry.lease) throw new Error("no network lease");
    const { host, port } = entry.lease.attachment.envdEndpoint;
    const envd = new EnvdClient(host, port, capturedToken ?? entry.record.accessToken);
    await envd.initWhenReady(
      {
        sandboxId: entry.record.id,
        templateId: entry.record.templateId,
        envVars: entry.record.envs,
        accessToken: entry.record.accessToken,
      },
      this.limits.envdTimeoutMs,
      () => vm.alive,
    );
    entry.envd = envd;
  }

  /**
   * Grows the disk beyond the template's size: QEMU tells the guest about the
   * new capacity, then the ext4 file system is grown online from inside.
   */
  private async growGuestDisk(entry: Entry, bytes: number): Promise<void> {
    if (!entry.vm || !entry.envd) return;
    await entry.vm.resizeRootDisk(bytes);
    const sectors = Math.floor(bytes / 512);
    const script = `for i in $(seq 100); do [ "$(cat /sys/block/vda/size)" -ge ${sectors} ] && break; sleep 0.05; done; resize2fs /dev/vda`;
    const result = await entry.envd.exec({ cmd: "/bin/sh", args: ["-c", script], user: "root" }, 120_000);
    if (result.exitCode !== 0) {
      throw new Error(`resize2fs in the guest failed: ${result.stderr.toString("utf8").slice(0, 300)}`);
    }
  }

  /** Kills the VM, releases the network and deletes the sandbox directory. Never throws. */
  private async teardown(entry: Entry): Promise<void> {
    const id = entry.record.id;
    if (entry.vm) this.o.hooks?.onVmStopped?.(id);
    await entry.vm?.kill().catch((err) => this.o.logger.error({ err, sandboxId: id }, "VM kill failed"));
    await entry.lease
      ?.release()
      .catch((err) => this.o.logger.error({ err, sandboxId: id }, "network release failed"));
    entry.vm = undefined;
    entry.lease = undefined;
    entry.envd = undefined;
    await rm(this.o.layout.sandboxDir(id), { recursive: true, force: true });
  }

  private async collectTemplateGarbage(record: SandboxRecord): Promise<void> {
    await this.o.templates
      .collectGarbage(record.templateTeamId, record.templateId, this.generationsInUse())
      .catch((err) => this.o.logger.warn({ err }, "template cleanup failed"));
  }

  private running(id: string, what: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw errors.notFound(`sandbox ${id} not found`);
    if (entry.record.state !== "running") {
      throw errors.failedPrecondition(`cannot ${what} sandbox ${id}: it is ${entry.record.state}`);
    }
    return entry;
  }

  private checkSizes(diskSizeMb: number, vcpus: number, memoryMb: number): void {
    const intIn = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
    if (!intIn(diskSizeMb, this.limits.maxDiskSizeMb)) {
      throw errors.invalidArgument(`disk_size_mb must be between 1 and ${this.limits.maxDiskSizeMb}`);
    }
    if (!intIn(vcpus, this.limits.maxVcpus)) {
      throw errors.invalidArgument(`vcpus must be between 1 and ${this.limits.maxVcpus}`);
    }
    if (!intIn(memoryMb, this.limits.maxMemoryMb)) {
      throw errors.invalidArgument(`memory_mb must be between 1 and ${this.limits.maxMemoryMb}`);
    }
  }

  /** Client-safe error: WrennErrors pass through, anything else becomes `internal` with the cause logged. */
  private failure(err: unknown, message: string): Error {
    if (isWrennError(err)) return err;
    this.o.logger.error({ err }, message);
    return errors.internal(message, err);
  }

  private view(entry: Entry): SandboxView {
    return {
      ...entry.record,
      pid: entry.vm?.pid,
      diskPath: join(this.o.layout.sandboxDir(entry.record.id), SANDBOX_FILES.disk),
      guestHost: entry.lease?.attachment.guestHost,
    };
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
