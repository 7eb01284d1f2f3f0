import { randomUUID } from "node:crypto";
import { errors, isWrennError, type Logger } from "@wrenn/common";
import {
  appendBuildLogs,
  type Build,
  type BuildStepProgress,
  claimBuild,
  clearBuildSandbox,
  type Database,
  deleteBuildFiles,
  findTemplateByName,
  finishBuild,
  getBuild,
  insertTemplate,
  listBuildFiles,
  updateBuildProgress,
} from "@wrenn/db";
import type { SecretBox } from "../crypto/secret-box.ts";
import type { HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import { formatId } from "../ids.ts";
import { systemActor } from "../services/actor.ts";
import { agentTemplateId } from "../services/sandboxes.ts";
import type { SnapshotsService } from "../services/snapshots.ts";
import type { BuildAudit } from "./audit.ts";
import { BuildLogWriter } from "./build-log.ts";
import { type ContextFile, copyHash } from "./context.ts";
import {
  applySettings,
  buildPlan,
  Cancelled,
  type GuestState,
  initialState,
  type PlanItem,
  runStep,
  ShutDown,
  StepFailed,
  startAndWaitReady,
} from "./guest-steps.ts";
import { ImageBases, type ResolvedImageBase } from "./image-base.ts";
import { LayerCache } from "./layers.ts";
import { type BuildOrigin, BuildSandbox, destroyBuildSandbox } from "./sandbox.ts";
import {
  type BuildSpec,
  type BuildStep,
  changesDisk,
  describeStep,
  POST_STEPS,
  prefixKeys,
} from "./steps.ts";

/** Tunables of the builder (see `Config.builds`). */
export interface BuildRunnerSettings {
  /** A cache layer is captured once uncached steps since the last one ran this long (and after the last step). */
  layerMinMs: number;
  /** Cache layers kept per team (least recently used evicted first). */
  maxLayersPerTeam: number;
  /** Limit of one RUN step. */
  stepTimeoutSec: number;
  /** How long the ready check may keep failing. */
  readyTimeoutMs: number;
}

/** Everything the builder uses. */
export interface BuildRunnerDeps {
  db: Database;
  pool: HostClientPool;
  scheduler: Scheduler;
  audit: BuildAudit;
  snapshots: SnapshotsService;
  log: Logger;
  settings: BuildRunnerSettings;
  /** Opens the registry credentials of builds from private images. */
  box?: SecretBox | undefined;
}

/**
 * Plan indices after which a layer is always captured, whatever the steps cost: the last two
 * disk-changing steps before the post steps (an unchanged rebuild reuses everything, one whose
 * last step changed reuses all before it) — or the last of the post steps when the recipe has none.
 */
export function layerPoints(plan: PlanItem[], skipPrePost: boolean): Set<number> {
  const end = skipPrePost ? plan.length : plan.length - POST_STEPS.length;
  const disk = plan.map((p, i) => (i < end && changesDisk(p.step) ? i : -1)).filter((i) => i >= 0);
  if (disk.length === 0) {
    const last = plan.findLastIndex((p) => changesDisk(p.step));
    return new Set(last >= 0 ? [last] : []);
  }
  return new Set(disk.slice(-2));
}

/**
 * Runs one build: claims it, starts a sandbox from the base template (or from
 * the deepest cache layer that matches), runs each step through the host agent,
 * captures the result (a flattened image, or a snapshot after the start command
 * passed its ready check) and records the template — unless the build was
 * cancelled meanwhile, in which case nothing of it stays.
 */
export class BuildRunner {
  private readonly layers: LayerCache;

  private readonly images: ImageBases;

  constructor(private readonly deps: BuildRunnerDeps) {
    this.layers = new LayerCache(deps, deps.settings.maxLayersPerTeam);
    this.images = new ImageBases(deps);
  }

  /** Runs build `buildId` (a job of the queue). `signal` aborts on a cancel in this process. */
  async run(buildId: string, signal: AbortSignal): Promise<void> {
    const { db } = this.deps;
    const build = await claimBuild(db, buildId, new Date());
    if (!build) {
      // A job delivered again while its row says `building`: the process running it died.
      const row = await getBuild(db, null, buildId);
      if (row?.status === "building") await this.failInterrupted(row);
      return;
    }
    const log = new BuildLogWriter(db, this.deps.log, buildId);
    const progress = [...build.steps];
    let sandbox: BuildSandbox | undefined;
    await this.deps.audit.record(systemActor, build.teamId, build.id, "build.started", {
      metadata: { name: build.name, base_template: build.baseTemplate },
    });
    log.system(`build ${formatId("build", build.id)} of template ${build.name} started`);
    let failure: { err: unknown } | undefined;
    try {
      await this.execute(build, log, progress, signal, (sb) => {
        sandbox = sb;
      });
    } catch (err) {
      failure = { err: signal.aborted && signal.reason === "shutdown" ? new ShutDown() : err };
    }
    // The sandbox goes before the outcome is recorded, so a build seen ended holds nothing.
    const row = await getBuild(db, null, build.id);
    if (row?.sandboxId) {
      await destroyBuildSandbox(this.deps, row.sandboxId, row.hostId);
      await clearBuildSandbox(db, build.id);
    } else if (sandbox) {
      await destroyBuildSandbox(this.deps, sandbox.id, sandbox.host.id);
    }
    if (failure) await this.settleFailure(build, progress, failure.err, log);
    await log.flush();
    await deleteBuildFiles(db, build.id);
    await this.layers.evict(build.teamId);
  }

  private async execute(
    build: Build,
    log: BuildLogWriter,
    progress: BuildStepProgress[],
    signal: AbortSignal,
    onSandbox: (sb: BuildSandbox) => void,
  ): Promise<void> {
    const { db, settings } = this.deps;
    const spec = build.spec as BuildSpec;
    const plan = buildPlan(spec, build.skipPrePost);
    const base = await this.resolveBase(build, spec, log);
    const files: ContextFile[] = await listBuildFiles(db, build.id);
    const keys = prefixKeys(
      { templateId: base.keyId, vcpus: build.vcpus, memoryMb: build.memoryMb, diskSizeMb: build.diskSizeMb },
      plan.map((p) => (p.asRoot ? { ...p.step, root: true } : p.step) as BuildStep),
      (step) => copyHash(step, files),
    );

    // The deepest cached prefix whose host is online.
    let resumeAt = 0;
    let origin: BuildOrigin = base.origin;
    if (build.skipCache) {
      log.system("skip_cache: every step runs again (layers captured now replace the cached ones)");
    } else {
      const hit = await this.layers.deepest(build.teamId, keys);
      if (hit) {
        resumeAt = hit.index + 1;
        origin = {
          name: base.origin.name,
          rowId: hit.layer.id,
          agentId: hit.layer.id,
          teamId: build.teamId,
          hostId: hit.layer.hostId,
        };
      }
    }
    const state = base.state;
    for (let i = 0; i < resumeAt; i++) {
      const item = plan[i] as PlanItem;
      applySettings(state, item.step);
      progress[i] = { ...(progress[i] as BuildStepProgress), status: "cached" };
      log.system(`step ${i + 1}/${plan.length} CACHED ${describeStep(item.step)}`, i + 1);
    }
    if (resumeAt > 0) log.system(`steps 1-${resumeAt} reused from the layer cache`);
    await this.saveProgress(build.id, progress, resumeAt);

    const sandbox = await BuildSandbox.start(this.deps, {
      teamId: build.teamId,
      buildId: build.id,
      origin,
      vcpus: build.vcpus,
      memoryMb: build.memoryMb,
      diskSizeMb: build.diskSizeMb,
      onPlaced: async (sandboxId, hostId) => {
        if (!(await updateBuildProgress(db, build.id, { sandboxId, hostId }))) throw new Cancelled();
      },
    });
    onSandbox(sandbox);
    log.system(
      `build sandbox ${sandbox.wireId} started on host ${formatId("host", sandbox.host.id)} from ${
        resumeAt > 0
          ? `cache layer of step ${resumeAt}`
          : `${spec.fromImage ? "image" : "template"} ${base.origin.name}`
      }`,
    );

    const alwaysLayer = layerPoints(plan, build.skipPrePost);
    let sinceLayerMs = 0;
    for (let i = resumeAt; i < plan.length; i++) {
      if (signal.aborted) throw new Cancelled();
      const item = plan[i] as PlanItem;
      const n = i + 1;
      const started = Date.now();
      progress[i] = {
        ...(progress[i] as BuildStepProgress),
        status: "running",
        startedAt: new Date().toISOString(),
      };
      await this.saveProgress(build.id, progress, i);
      log.system(`step ${n}/${plan.length} ${describeStep(item.step)}`, n);
      const exitCode = await runStep(sandbox, item, state, files, log, n, signal, this.deps.settings);
      progress[i] = {
        ...(progress[i] as BuildStepProgress),
        status: "done",
        finishedAt: new Date().toISOString(),
        exitCode,
      };
      await this.saveProgress(build.id, progress, n);
      sinceLayerMs += Date.now() - started;
      const worthALayer = sinceLayerMs >= settings.layerMinMs || alwaysLayer.has(i);
      if (changesDisk(item.step) && worthALayer) {
        await this.layers.capture(build, sandbox, keys[i] as string, n, log);
        sinceLayerMs = 0;
      }
    }

    if (signal.aborted) throw new Cancelled();
    const templateId = randomUUID();
    let sizeBytes: number;
    let type: "snapshot" | "image";
    if (spec.startCmd) {
      await startAndWaitReady(sandbox, spec, state, log, signal, this.deps.settings);
      log.system("capturing the snapshot template (process running)");
      sizeBytes = await sandbox.snapshot(build.teamId, templateId, build.name);
      type = "snapshot";
      // Captured: the build sandbox is done before the template shows.
      await destroyBuildSandbox(this.deps, sandbox.id, sandbox.host.id);
      await clearBuildSandbox(db, build.id);
    } else {
      log.system("flattening the disk into an image template");
      sizeBytes = await sandbox.flatten(build.teamId, templateId, build.name);
      type = "image";
    }
    await this.commit(build, sandbox, progress, { templateId, type, sizeBytes, state }, log);
  }

  /**
   * Where the build starts: its base template, or the converted OCI image (see
   * {@link ImageBases}); with the guest settings the steps start from and the id that
   * stands for the base in cache keys.
   */
  private async resolveBase(build: Build, spec: BuildSpec, log: BuildLogWriter): Promise<ResolvedImageBase> {
    if (spec.fromImage) return this.images.resolve(build, spec.fromImage, log);
    const base = await findTemplateByName(this.deps.db, build.teamId, build.baseTemplate);
    if (!base) throw errors.failedPrecondition(`base template ${build.baseTemplate} no longer exists`);
    return {
      origin: {
        name: base.name,
        rowId: base.id,
        agentId: agentTemplateId(base),
        teamId: base.teamId,
        hostId: base.hostId,
      },
      state: initialState(base),
      keyId: base.id,
    };
  }

  /**
   * Records the template and marks the build ready in one transaction that
   * only succeeds while the build is still `building`; a build cancelled
   * meanwhile deletes the files it made, so no half-made template shows.
   */
  private async commit(
    build: Build,
    sandbox: BuildSandbox,
    progress: BuildStepProgress[],
    result: { templateId: string; type: "snapshot" | "image"; sizeBytes: number; state: GuestState },
    log: BuildLogWriter,
  ): Promise<void> {
    const { db } = this.deps;
    const current = await getBuild(db, null, build.id);
    if (current?.status !== "building") {
      await sandbox.deleteTemplateFiles(build.teamId, result.templateId);
      throw new Cancelled();
    }
    await this.deps.snapshots.deleteForRebuild(build.teamId, build.name, build.id);
    const readyMessage = `template ${build.name} ready (${result.type}, ${Math.round(result.sizeBytes / 1e6)} MB, ${formatId("template", result.templateId)})`;
    // Earlier entries first; the last one lands with the outcome, so a reader never sees one without the other.
    await log.flush();
    const done = await db.transaction(async (tx) => {
      const finished = await finishBuild(
        tx,
        build.id,
        "ready",
        { templateId: result.templateId, steps: progress, currentStep: progress.length },
        new Date(),
      );
      if (!finished) return false;
      await insertTemplate(tx, {
        id: result.templateId,
        teamId: build.teamId,
        name: build.name,
        type: result.type,
        vcpus: build.vcpus,
        memoryMb: build.memoryMb,
        sizeBytes: result.sizeBytes,
        hostId: sandbox.host.id,
        envs: result.state.envs,
        defaultUser: result.state.user,
        defaultWorkdir: result.state.workdir || null,
        diskSizeMb: build.diskSizeMb,
      });
      await appendBuildLogs(tx, [{ buildId: build.id, step: 0, stream: "system", message: readyMessage }]);
      return true;
    });
    if (!done) {
      await sandbox.deleteTemplateFiles(build.teamId, result.templateId);
      throw new Cancelled();
    }
    await this.deps.audit.record(systemActor, build.teamId, build.id, "build.succeeded", {
      metadata: { name: build.name, template_id: formatId("template", result.templateId), type: result.type },
    });
  }

  /** Records why a build failed, unless it was cancelled (then the cancel already recorded it). */
  private async settleFailure(
    build: Build,
    progress: BuildStepProgress[],
    err: unknown,
    log: BuildLogWriter,
  ): Promise<void> {
    const row = await getBuild(this.deps.db, null, build.id);
    if (row?.status === "cancelled" || (err instanceof Cancelled && row?.status !== "building")) {
      log.system("build cancelled; its sandbox is destroyed and no template was made");
      return;
    }
    const failedStep =
      err instanceof StepFailed ? err.step : progress.findIndex((p) => p.status === "running") + 1 || null;
    if (failedStep) {
      const p = progress[failedStep - 1];
      if (p) progress[failedStep - 1] = { ...p, status: "failed", finishedAt: new Date().toISOString() };
    }
    const shown =
      err instanceof StepFailed || err instanceof ShutDown || (isWrennError(err) && err.code !== "internal");
    const message = shown
      ? (err as Error).message
      : "internal error while building (see the control plane log)";
    if (!shown) {
      this.deps.log.error({ err, buildId: build.id }, "build failed");
    }
    log.system(`build failed: ${message}`, failedStep ?? 0);
    await log.flush(); // written before the outcome, so a reader that sees `error` sees why
    const ended = await finishBuild(
      this.deps.db,
      build.id,
      "error",
      { error: message, failedStep, steps: progress },
      new Date(),
    );
    if (ended) {
      await this.deps.audit.record(systemActor, build.teamId, build.id, "build.failed", {
        status: "error",
        metadata: { name: build.name, error: message, failed_step: failedStep },
      });
    }
  }

  /**
   * A build whose process died mid-way (control plane restart or crash): it is
   * failed, not resumed — its sandbox's state is unknown — and its sandbox destroyed.
   */
  private async failInterrupted(build: Build): Promise<void> {
    const log = new BuildLogWriter(this.deps.db, this.deps.log, build.id);
    const message =
      "the control plane stopped during this build; it was failed (not resumed) — submit it again";
    if (build.sandboxId) await destroyBuildSandbox(this.deps, build.sandboxId, build.hostId);
    await clearBuildSandbox(this.deps.db, build.id);
    await deleteBuildFiles(this.deps.db, build.id);
    log.system(message);
    await log.flush();
    const ended = await finishBuild(this.deps.db, build.id, "error", { error: message }, new Date());
    if (ended) {
      await this.deps.audit.record(systemActor, build.teamId, build.id, "build.failed", {
        status: "error",
        metadata: { name: build.name, error: message },
      });
    }
  }

  private async saveProgress(
    buildId: string,
    steps: BuildStepProgress[],
    currentStep: number,
  ): Promise<void> {
    if (!(await updateBuildProgress(this.deps.db, buildId, { steps, currentStep }))) throw new Cancelled();
  }

  /** Fails every build still marked building whose job is gone (used at start-up; see the queue). */
  failInterruptedBuild(build: Build): Promise<void> {
    return this.failInterrupted(build);
  }
}
