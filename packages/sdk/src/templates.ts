import { ApiClient } from "./client/http.ts";
import { type ConnectionOptions, resolveConfig } from "./config.ts";
import { type SnapshotInfo, snapshotInfoOf, type TemplateWire } from "./sandbox-info.ts";

/** Status of a template build. */
export type BuildStatus = "queued" | "building" | "ready" | "error" | "cancelled";

/** One typed build step (what a recipe line or a Dockerfile instruction becomes). */
export type TemplateStep =
  | { type: "run"; command: string }
  | { type: "env"; envs: Record<string, string> }
  | { type: "copy"; src: string; dest: string }
  | { type: "workdir"; path: string }
  | { type: "user"; user: string };

/** What to build: exactly one of `recipe`, `dockerfile` or `steps`, plus the build context. */
export interface TemplateBuildOptions extends ConnectionOptions {
  /** Name of the template (replaces the team's template of that name on success). */
  name: string;
  /** Wrenn recipe text (RUN/ENV/COPY/WORKDIR/USER/START/READY). */
  recipe?: string;
  /** Dockerfile text (the supported subset; FROM names a Wrenn template or an OCI image such as `debian:12`). */
  dockerfile?: string;
  /** Typed steps. */
  steps?: TemplateStep[];
  /** With `steps`: the start command (the result is a snapshot with it running). */
  startCmd?: string;
  /** With `steps`: the ready check, repeated until it exits 0. */
  readyCmd?: string;
  /**
   * Base: a template (default `minimal`) or an OCI image when the name has a registry,
   * namespace, tag or digest (`debian:12`); a Dockerfile's FROM wins.
   */
  from?: string;
  /** Credentials of the base image's registry (stored encrypted by the platform, never shown). */
  registryAuth?: { username: string; password: string };
  /** Build context for COPY: relative path → content. */
  files?: Record<string, string | Uint8Array | { content: string | Uint8Array; mode: number }>;
  vcpus?: number;
  memoryMb?: number;
  diskSizeMb?: number;
  /** Skip the `apt-get update` pre step and the apt clean-up post step. */
  skipPrePost?: boolean;
  /** Run every step again instead of reusing cached layers. */
  skipCache?: boolean;
}

/** Progress of one step. */
export interface BuildStepInfo {
  index: number;
  description: string;
  status: "pending" | "running" | "done" | "cached" | "failed" | "skipped";
  startedAt: Date | null;
  finishedAt: Date | null;
  exitCode: number | null;
}

/** A build as the API reports it. */
export interface BuildInfo {
  /** `bld-…` */
  buildId: string;
  name: string;
  status: BuildStatus;
  baseTemplate: string;
  currentStep: number;
  totalSteps: number;
  steps: BuildStepInfo[];
  /** Why it failed: the failing step and the end of its output. */
  error: string | null;
  failedStep: number | null;
  /** The template made (`tpl-…`), once ready. */
  templateId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

/** One log entry of a build. */
export interface BuildLogEntry {
  /** Cursor for {@link Templates.buildLogs}' `after`. */
  id: number;
  /** 1-based step; 0 = the builder's own messages. */
  step: number;
  stream: "system" | "stdout" | "stderr";
  message: string;
  timestamp: Date;
}

interface BuildWire {
  id: string;
  name: string;
  status: BuildStatus;
  base_template: string;
  current_step: number;
  total_steps: number;
  steps: {
    index: number;
    description: string;
    status: BuildStepInfo["status"];
    started_at: string | null;
    finished_at: string | null;
    exit_code: number | null;
  }[];
  error: string | null;
  failed_step: number | null;
  template_id: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

const date = (s: string | null) => (s ? new Date(s) : null);

/** A build log entry as `GET /v1/builds/{id}/logs` sends it. */
interface BuildLogWire {
  id: number;
  step: number;
  stream: BuildLogEntry["stream"];
  message: string;
  timestamp: string;
}

const buildLogOf = (l: BuildLogWire): BuildLogEntry => ({ ...l, timestamp: new Date(l.timestamp) });

function buildInfoOf(w: BuildWire): BuildInfo {
  return {
    buildId: w.id,
    name: w.name,
    status: w.status,
    baseTemplate: w.base_template,
    currentStep: w.current_step,
    totalSteps: w.total_steps,
    steps: w.steps.map((s) => ({
      index: s.index,
      description: s.description,
      status: s.status,
      startedAt: date(s.started_at),
      finishedAt: date(s.finished_at),
      exitCode: s.exit_code,
    })),
    error: w.error,
    failedStep: w.failed_step,
    templateId: w.template_id,
    createdAt: new Date(w.created_at),
    startedAt: date(w.started_at),
    completedAt: date(w.completed_at),
  };
}

const ENDED = new Set<BuildStatus>(["ready", "error", "cancelled"]);

/** Options of {@link Templates.waitForBuild}. */
export interface WaitForBuildOptions extends ConnectionOptions {
  /** Each new log entry, in order. */
  onLog?: (entry: BuildLogEntry) => void;
  /** The build whenever its status or step changes. */
  onProgress?: (build: BuildInfo) => void;
  /** Poll interval (default 500 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * Template builds and the team's templates. A build turns a recipe, a
 * Dockerfile or typed steps into a template that sandboxes start from by name;
 * it runs in the background on the control plane (queued, then built in a
 * sandbox step by step), so `buildInBackground` answers at once and
 * `build` waits for the outcome.
 */
export const Templates = {
  /** Queues a build and answers it at once (status `queued`). */
  async buildInBackground(options: TemplateBuildOptions): Promise<BuildInfo> {
    const api = new ApiClient(resolveConfig(options));
    const files = Object.entries(options.files ?? {}).map(([path, value]) => {
      const entry = typeof value === "string" || value instanceof Uint8Array ? { content: value } : value;
      const bytes =
        typeof entry.content === "string" ? Buffer.from(entry.content) : Buffer.from(entry.content);
      return { path, content: bytes.toString("base64"), ...("mode" in entry ? { mode: entry.mode } : {}) };
    });
    const wire = await api.request<BuildWire>("POST", "/v1/builds", {
      body: {
        name: options.name,
        recipe: options.recipe,
        dockerfile: options.dockerfile,
        steps: options.steps,
        start_cmd: options.startCmd,
        ready_cmd: options.readyCmd,
        from: options.from,
        registry_auth: options.registryAuth,
        vcpus: options.vcpus,
        memory_mb: options.memoryMb,
        disk_size_mb: options.diskSizeMb,
        skip_pre_post: options.skipPrePost,
        skip_cache: options.skipCache,
        files: files.length ? files : undefined,
      },
    });
    return buildInfoOf(wire);
  },

  /** Queues a build and waits until it is ready, failed or cancelled (see {@link Templates.waitForBuild}). */
  async build(options: TemplateBuildOptions & WaitForBuildOptions): Promise<BuildInfo> {
    const queued = await Templates.buildInBackground(options);
    return Templates.waitForBuild(queued.buildId, options);
  },

  /**
   * Follows a build until it ends, handing over its log entries and progress
   * as they appear; answers the final build (check `status`: a failed build
   * is not thrown).
   */
  async waitForBuild(buildId: string, options: WaitForBuildOptions = {}): Promise<BuildInfo> {
    const api = new ApiClient(resolveConfig(options));
    let after = 0;
    let last = "";
    for (;;) {
      const page = await api.request<{
        logs: BuildLogWire[];
        next_after: number;
        status: BuildStatus;
        current_step: number;
      }>("GET", `/v1/builds/${buildId}/logs`, { query: { after }, signal: options.signal });
      for (const l of page.logs) options.onLog?.(buildLogOf(l));
      after = page.next_after;
      const key = `${page.status}:${page.current_step}`;
      if (key !== last || ENDED.has(page.status)) {
        last = key;
        const build = await Templates.getBuild(buildId, options);
        options.onProgress?.(build);
        // Ended by the page's own status, not `build`'s (read later): the server reads a build's
        // status before its logs and writes the last logs before the outcome, so a page that says
        // "ended" with no new entries means every entry was read.
        if (ENDED.has(page.status) && page.logs.length === 0) return build;
      }
      if (page.logs.length === 0) await sleep(options.pollMs ?? 500, options.signal);
    }
  },

  /** One build (the team's own; admins: any). */
  async getBuild(buildId: string, options: ConnectionOptions = {}): Promise<BuildInfo> {
    const api = new ApiClient(resolveConfig(options));
    return buildInfoOf(await api.request<BuildWire>("GET", `/v1/builds/${buildId}`));
  },

  /** The team's builds, newest first (optionally of one template name). */
  async listBuilds(
    options: ConnectionOptions & {
      name?: string;
      status?: BuildStatus;
      limit?: number;
    } = {},
  ): Promise<BuildInfo[]> {
    const api = new ApiClient(resolveConfig(options));
    const res = await api.request<{ builds: BuildWire[] }>("GET", "/v1/builds", {
      query: { name: options.name, status: options.status, limit: options.limit },
    });
    return res.builds.map(buildInfoOf);
  },

  /** Log entries after `after` (an entry id; 0 = from the start). */
  async buildLogs(
    buildId: string,
    options: ConnectionOptions & { after?: number } = {},
  ): Promise<BuildLogEntry[]> {
    const api = new ApiClient(resolveConfig(options));
    const res = await api.request<{ logs: BuildLogWire[] }>("GET", `/v1/builds/${buildId}/logs`, {
      query: { after: options.after ?? 0 },
    });
    return res.logs.map(buildLogOf);
  },

  /** Cancels a queued or running build. */
  async cancelBuild(buildId: string, options: ConnectionOptions = {}): Promise<BuildInfo> {
    const api = new ApiClient(resolveConfig(options));
    return buildInfoOf(await api.request<BuildWire>("POST", `/v1/builds/${buildId}/cancel`));
  },

  /** The team's templates and the platform's. */
  async list(options: ConnectionOptions = {}): Promise<SnapshotInfo[]> {
    const api = new ApiClient(resolveConfig(options));
    const res = await api.request<{ templates: TemplateWire[] }>("GET", "/v1/snapshots");
    return res.templates.map(snapshotInfoOf);
  },

  /** Deletes a template of the team (and its files on every host). */
  async delete(name: string, options: ConnectionOptions = {}): Promise<void> {
    const api = new ApiClient(resolveConfig(options));
    await api.request("DELETE", `/v1/snapshots/${encodeURIComponent(name)}`);
  },
};

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
