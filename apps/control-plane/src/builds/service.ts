import { randomUUID } from "node:crypto";
import { assertSafeName, errors, type Logger } from "@wrenn/common";
import {
  type Build,
  type BuildLog,
  type BuildStatus,
  type Database,
  deleteBuildFiles,
  findTemplateByName,
  finishBuild,
  getBuild,
  getDeploymentId,
  getOwnTemplate,
  insertBuild,
  insertBuildFiles,
  listBuildLogs,
  listBuilds,
  PLATFORM_TEAM_ID,
} from "@wrenn/db";
import type { SecretBox } from "../crypto/secret-box.ts";
import type { HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import { formatId } from "../ids.ts";
import { currentTeamAccess } from "../services/access.ts";
import { actorOf } from "../services/actor.ts";
import type { AuditSink } from "../services/audit.ts";
import type { AuthContext } from "../services/auth-context.ts";
import { checkRange, sandboxLimits } from "../services/sandbox-spec.ts";
import type { SnapshotsService } from "../services/snapshots.ts";
import { BuildAudit } from "./audit.ts";
import { type ContextFile, checkCopySources } from "./context.ts";
import { parseDockerfile } from "./dockerfile.ts";
import { buildPlan } from "./guest-steps.ts";
import { checkImageRef, type RegistryAuth, sealRegistryAuth } from "./image-base.ts";
import { BuildQueue } from "./queue.ts";
import { parseRecipe, SpecError } from "./recipe.ts";
import { BuildRunner, type BuildRunnerSettings } from "./runner.ts";
import { destroyBuildSandbox } from "./sandbox.ts";
import { type BuildSpec, describeStep, isImageRef } from "./steps.ts";

/** What a caller submits: a recipe, a Dockerfile or a step list, plus the sandbox shape and options. */
export interface SubmitBuildInput {
  /** Id for the build (default: a fresh one); E2B's API hands it out before the steps arrive. */
  id?: string | undefined;
  /** Name of the template to make (an existing one of the team is replaced on success). */
  name: string;
  source: "recipe" | "dockerfile" | "steps";
  /** The recipe or Dockerfile text (for `recipe` / `dockerfile`). */
  text?: string | undefined;
  /** The parsed form (for `steps`: what an SDK sends). */
  spec?: BuildSpec | undefined;
  /** Base template; a Dockerfile's FROM wins. Default `minimal`. */
  from?: string | undefined;
  vcpus?: number | undefined;
  memoryMb?: number | undefined;
  diskSizeMb?: number | undefined;
  skipPrePost?: boolean | undefined;
  skipCache?: boolean | undefined;
  /** The uploaded build context COPY steps read from. */
  files?: ContextFile[] | undefined;
  /** Credentials of the registry of an image base (sealed before they are stored). */
  registryAuth?: RegistryAuth | undefined;
}

/** Who a build belongs to: the caller's team, or the platform (admin builds). */
export type BuildScope = "team" | "platform";

const DEFAULT_DISK_MB = 5120;

/** Settings of the build subsystem (`Config.builds`). */
export interface BuildsSettings extends BuildRunnerSettings {
  workers: number;
}

/**
 * Template builds: validation and queueing (nothing is queued for a bad
 * spec), the team-scoped views, cancel, and the worker pool that runs them
 * (see {@link BuildRunner}). A team sees and cancels only its own builds;
 * platform builds are the platform admins'.
 */
export class BuildsService {
  private readonly queue: BuildQueue;
  private readonly runner: BuildRunner;
  private readonly audit: BuildAudit;
  /** Builds running in this process, so a cancel here stops them at once. */
  private readonly running = new Map<string, AbortController>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      db: Database;
      pool: HostClientPool;
      scheduler: Scheduler;
      snapshots: SnapshotsService;
      log: Logger;
      redisUrl: string;
      /** Prefix of the queue's Redis keys. */
      queuePrefix: string;
      settings: BuildsSettings;
      /** Where build outcomes go as lifecycle events (notification channels). */
      events?: AuditSink;
      /** Seals registry credentials of image bases (absent: builds from private images are refused). */
      box?: SecretBox | undefined;
    },
  ) {
    this.queue = new BuildQueue({
      redisUrl: deps.redisUrl,
      prefix: deps.queuePrefix,
      deploymentId: () => getDeploymentId(deps.db),
      log: deps.log,
    });
    this.audit = new BuildAudit(deps.db, deps.log, deps.events);
    this.runner = new BuildRunner({ ...deps, audit: this.audit, settings: deps.settings });
  }

  /**
   * Starts this process's worker pool (size `settings.workers`; 0 = none) and
   * settles builds an earlier process left `building` without a job.
   */
  async start(): Promise<void> {
    await this.queue.startWorkers(this.deps.settings.workers, (id) => this.runTracked(id));
    if (this.deps.settings.workers > 0) await this.sweep();
  }

  private runTracked(buildId: string): Promise<void> {
    const controller = new AbortController();
    this.running.set(buildId, controller);
    const p = this.runner.run(buildId, controller.signal).finally(() => {
      this.running.delete(buildId);
      this.inFlight.delete(p);
    });
    this.inFlight.add(p);
    return p;
  }

  /** Builds marked building whose job is gone: failed (not resumed), sandboxes destroyed. Queued ones re-queued. */
  private async sweep(): Promise<void> {
    for (const build of await listBuilds(this.deps.db, {
      teamId: null,
      statuses: ["queued", "building"],
      limit: 1000,
    })) {
      const state = await this.queue.state(build.id).catch(() => "error");
      if (build.status === "building" && ["unknown", "completed", "failed"].includes(state)) {
        await this.runner.failInterruptedBuild(build);
      } else if (build.status === "queued" && state === "unknown") {
        await this.queue.add(build.id);
      }
    }
  }

  /**
   * Stops the workers. Builds running here are failed at once (their sandboxes
   * destroyed, the reason in their logs) rather than left to a stalled-job check.
   */
  async close(): Promise<void> {
    for (const c of this.running.values()) c.abort("shutdown");
    await Promise.allSettled([...this.inFlight]);
    await this.queue.close();
  }

  /** Validates, records and queues a build; answers the queued build. */
  async submit(auth: AuthContext, input: SubmitBuildInput, scope: BuildScope): Promise<Build> {
    const teamId =
      scope === "platform" ? this.requireAdmin(auth) : (await currentTeamAccess(this.deps.db, auth)).team.id;
    const name = assertSafeName(input.name, "name");
    if (name === "minimal") throw errors.permissionDenied("the minimal template cannot be rebuilt");
    if (teamId !== PLATFORM_TEAM_ID && (await getOwnTemplate(this.deps.db, PLATFORM_TEAM_ID, name))) {
      throw errors.alreadyExists(`name ${name} is taken by a platform template; choose another`);
    }
    const spec = parseSpec(input);
    const files = input.files ?? [];
    checkCopySources(spec.steps, files);
    const id = input.id ?? randomUUID();
    const fromText = spec.fromImage?.ref ?? spec.from ?? input.from ?? "minimal";
    const image = isImageRef(fromText) ? checkImageRef(fromText) : undefined;
    if (input.registryAuth && !image) {
      throw errors.invalidArgument("registry credentials go with a base image (FROM registry/image:tag)");
    }
    const baseName = image ? "minimal" : assertSafeName(fromText, "from");
    const base = await findTemplateByName(this.deps.db, teamId, baseName);
    if (!base) throw errors.notFound(`base template ${baseName} not found`);
    if (!image && base.name === name && base.teamId === teamId) {
      throw errors.invalidArgument("a build cannot start from the template it replaces");
    }
    // An image base takes the shape of a fresh sandbox (minimal's), nothing of minimal's disk.
    const fromImage = image
      ? {
          ref: image,
          ...(input.registryAuth ? { auth: sealRegistryAuth(this.deps.box, id, input.registryAuth) } : {}),
        }
      : undefined;
    const vcpus = checkRange(input.vcpus ?? base.vcpus, sandboxLimits.vcpus, "vcpus");
    const memoryMb = checkRange(input.memoryMb ?? base.memoryMb, sandboxLimits.memoryMb, "memory_mb");
    const diskSizeMb = checkRange(
      input.diskSizeMb ?? base.diskSizeMb ?? DEFAULT_DISK_MB,
      sandboxLimits.diskSizeMb,
      "disk_size_mb",
    );
    if (!image && base.diskSizeMb && diskSizeMb < base.diskSizeMb) {
      throw errors.invalidArgument(`disk_size_mb must be at least ${base.diskSizeMb} (the base template's)`);
    }
    if (!image && base.type === "snapshot" && (vcpus !== base.vcpus || memoryMb !== base.memoryMb)) {
      throw errors.invalidArgument(
        `base template ${base.name} is a snapshot of ${base.vcpus} vCPU / ${base.memoryMb} MB; a build from it keeps that shape`,
      );
    }
    const skipPrePost = input.skipPrePost ?? false;
    const plan = buildPlan(spec, skipPrePost);
    const actor = actorOf(auth);
    const build = await this.deps.db.transaction(async (tx) => {
      const row = await insertBuild(tx, {
        id,
        teamId,
        name,
        baseTemplate: image ?? base.name,
        source: input.source,
        sourceText: input.text ?? "",
        spec: fromImage ? { ...spec, from: undefined, fromImage } : { ...spec, from: base.name },
        vcpus,
        memoryMb,
        diskSizeMb,
        skipPrePost,
        skipCache: input.skipCache ?? false,
        totalSteps: plan.length,
        steps: plan.map((p, i) => ({ index: i + 1, description: describeStep(p.step), status: "pending" })),
        createdBy: actor.id,
      });
      const used = files.filter((f) => spec.steps.some((s) => s.kind === "copy" && copies(s.src, f.path)));
      await insertBuildFiles(tx, id, used);
      return row;
    });
    await this.queue.add(id);
    await this.audit.record(actor, teamId, id, "build.requested", {
      metadata: { name, base_template: image ?? base.name, source: input.source, steps: plan.length },
    });
    return build;
  }

  private requireAdmin(auth: AuthContext): string {
    if (!auth.isAdmin) throw errors.permissionDenied("platform builds are for platform admins");
    return PLATFORM_TEAM_ID;
  }

  /** The caller's builds (or, `scope: platform`, every team's — admins only), newest first. */
  async list(
    auth: AuthContext,
    q: { name?: string | undefined; status?: BuildStatus | undefined; limit: number },
    scope: BuildScope,
  ): Promise<Build[]> {
    if (scope === "platform") this.requireAdmin(auth);
    const teamId = scope === "platform" ? null : (await currentTeamAccess(this.deps.db, auth)).team.id;
    return listBuilds(this.deps.db, {
      teamId,
      name: q.name,
      statuses: q.status ? [q.status] : [],
      limit: q.limit,
    });
  }

  /**
   * Build `id` as the caller may see it: a build of the caller's team, or —
   * for platform admins — any build. Anything else is `not_found`.
   */
  async get(auth: AuthContext, id: string): Promise<Build> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const row = await getBuild(this.deps.db, auth.isAdmin ? null : team.id, id);
    if (!row) throw errors.notFound("build not found");
    return row;
  }

  /** Log entries after `after` (an entry id; 0 = from the start). */
  async logs(
    auth: AuthContext,
    id: string,
    after: number,
    limit: number,
  ): Promise<{ build: Build; logs: BuildLog[] }> {
    const build = await this.get(auth, id);
    return { build, logs: await listBuildLogs(this.deps.db, build.id, after, limit) };
  }

  /**
   * Cancels a queued or running build: a queued one never starts; a running
   * one's sandbox is destroyed at once (its worker, in any process, stops on
   * the next step) and whatever it captured is deleted.
   */
  async cancel(auth: AuthContext, id: string): Promise<Build> {
    const build = await this.get(auth, id);
    const ended = await finishBuild(
      this.deps.db,
      build.id,
      "cancelled",
      { error: "cancelled" },
      new Date(),
      build.teamId,
    );
    if (!ended) throw errors.failedPrecondition(`the build is already ${build.status}`);
    await this.queue.remove(build.id);
    this.running.get(build.id)?.abort("cancel");
    if (ended.sandboxId) await destroyBuildSandbox(this.deps, ended.sandboxId, ended.hostId);
    if (build.status === "queued") await deleteBuildFiles(this.deps.db, build.id);
    await this.audit.record(actorOf(auth), build.teamId, build.id, "build.cancelled", {
      status: "warning",
      metadata: { name: build.name, was: build.status, step: ended.currentStep },
    });
    return ended;
  }
}

/** True when COPY source `src` reads context file `path`. */
function copies(src: string, path: string): boolean {
  const base = src.replace(/^\.?\/+/, "").replace(/\/+$/, "");
  return base === "" || base === "." || path === base || path.startsWith(`${base}/`);
}

/** Parses the submitted source into a spec; parse errors are `invalid_argument` naming the line. */
function parseSpec(input: SubmitBuildInput): BuildSpec {
  try {
    if (input.source === "recipe") return parseRecipe(input.text ?? "");
    if (input.source === "dockerfile") return parseDockerfile(input.text ?? "");
  } catch (err) {
    if (err instanceof SpecError) throw errors.invalidArgument(`${input.source} ${err.message}`);
    throw err;
  }
  if (!input.spec) throw errors.invalidArgument("steps are required");
  return input.spec;
}

/** The wire id of a build. */
export function buildWireId(id: string): string {
  return formatId("build", id);
}
