import { api } from "./client.ts";

/** Build statuses. */
export const BUILD_STATUSES = ["queued", "building", "ready", "error", "cancelled"] as const;

/** One of {@link BUILD_STATUSES}. */
export type BuildStatus = (typeof BUILD_STATUSES)[number];

/** One step's progress. */
export interface BuildStep {
  index: number;
  description: string;
  status: "pending" | "running" | "done" | "cached" | "failed" | "skipped";
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
}

/** A template build. */
export interface Build {
  id: string;
  /** The template it makes. */
  name: string;
  team_id: string;
  platform: boolean;
  base_template: string;
  source: "recipe" | "dockerfile" | "steps";
  status: BuildStatus;
  current_step: number;
  total_steps: number;
  steps: BuildStep[];
  start_cmd: string | null;
  ready_cmd: string | null;
  error: string | null;
  failed_step: number | null;
  template_id: string | null;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** One log line of a build. */
export interface BuildLog {
  /** Cursor: pass as `after` to read on. */
  id: number;
  /** 1-based step; 0 = the builder's own messages. */
  step: number;
  stream: "system" | "stdout" | "stderr";
  message: string;
  timestamp: string;
}

/** A page of log lines after a cursor, with the build's status at that moment. */
export interface BuildLogPage {
  logs: BuildLog[];
  next_after: number;
  status: BuildStatus;
  current_step: number;
  total_steps: number;
}

/** What the "new build" form sends. */
export interface NewBuild {
  name: string;
  recipe?: string;
  dockerfile?: string;
  from?: string;
  vcpus?: number;
  memory_mb?: number;
  skip_cache?: boolean;
  /** Build context files COPY reads (base64 content). */
  files?: { path: string; content: string }[];
}

/**
 * Whose builds: `team` (the caller's team, `/v1/builds`) or `platform` (every team's, and new
 * builds make platform templates: `/v1/admin/builds`, platform admins only).
 */
export type BuildScope = "team" | "platform";

const base = (scope: BuildScope) => (scope === "team" ? "/v1/builds" : "/v1/admin/builds");
const one = (scope: BuildScope, id: string) => `${base(scope)}/${encodeURIComponent(id)}`;

/** Builds of the scope, newest first. */
export async function listBuilds(
  scope: BuildScope,
  status?: BuildStatus,
  signal?: AbortSignal,
): Promise<Build[]> {
  return (await api<{ builds: Build[] }>("GET", base(scope), { query: { status }, signal })).builds;
}

/** One build. */
export function getBuild(scope: BuildScope, id: string, signal?: AbortSignal): Promise<Build> {
  return api("GET", one(scope, id), { signal });
}

/** Queues a build. */
export function submitBuild(scope: BuildScope, body: NewBuild): Promise<Build> {
  return api("POST", base(scope), { body });
}

/** Cancels a queued or running build. */
export function cancelBuild(scope: BuildScope, id: string): Promise<Build> {
  return api("POST", `${one(scope, id)}/cancel`);
}

/** Log lines after `after`. */
export function buildLogs(
  scope: BuildScope,
  id: string,
  after: number,
  signal?: AbortSignal,
): Promise<BuildLogPage> {
  return api("GET", `${one(scope, id)}/logs`, { query: { after }, signal });
}
