import { and, asc, desc, eq, gt, inArray, type SQL } from "drizzle-orm";
import type { Executor } from "../client.ts";
import {
  type BuildStatus,
  templateBuildFiles,
  templateBuildLayers,
  templateBuildLogs,
  templateBuilds,
} from "../schema.ts";
import { insertedRow } from "./returned.ts";

export type { BuildStatus, BuildStepProgress } from "../schema.ts";

/** A template build row. */
export type Build = typeof templateBuilds.$inferSelect;
/** One log entry of a build. */
export type BuildLog = typeof templateBuildLogs.$inferSelect;
/** A build cache layer row. */
export type BuildLayer = typeof templateBuildLayers.$inferSelect;

/** Statuses in which a build may still change (and be cancelled). */
export const ACTIVE_BUILD_STATUSES: BuildStatus[] = ["queued", "building"];

/** Records a new queued build. */
export async function insertBuild(
  ex: Executor,
  input: Pick<
    Build,
    | "id"
    | "teamId"
    | "name"
    | "baseTemplate"
    | "source"
    | "sourceText"
    | "spec"
    | "vcpus"
    | "memoryMb"
    | "diskSizeMb"
    | "skipPrePost"
    | "skipCache"
    | "totalSteps"
    | "steps"
    | "createdBy"
  >,
): Promise<Build> {
  const [row] = await ex
    .insert(templateBuilds)
    .values({ ...input, status: "queued" })
    .returning();
  return insertedRow(row, "template_builds");
}

/** Build `id` of `teamId`; pass `null` for any team (platform admins, the worker). */
export async function getBuild(ex: Executor, teamId: string | null, id: string): Promise<Build | undefined> {
  const [row] = await ex
    .select()
    .from(templateBuilds)
    .where(and(eq(templateBuilds.id, id), teamId === null ? undefined : eq(templateBuilds.teamId, teamId)))
    .limit(1);
  return row;
}

/** Newest builds first, of one team (or all with `teamId: null`), optionally of one template name. */
export async function listBuilds(
  ex: Executor,
  q: { teamId: string | null; name?: string | undefined; statuses?: BuildStatus[]; limit: number },
): Promise<Build[]> {
  const where: (SQL | undefined)[] = [
    q.teamId === null ? undefined : eq(templateBuilds.teamId, q.teamId),
    q.name ? eq(templateBuilds.name, q.name) : undefined,
    q.statuses?.length ? inArray(templateBuilds.status, q.statuses) : undefined,
  ];
  return ex
    .select()
    .from(templateBuilds)
    .where(and(...where))
    .orderBy(desc(templateBuilds.createdAt), desc(templateBuilds.id))
    .limit(q.limit);
}

/** Moves a queued build to `building`; undefined when it is no longer queued (cancelled, taken). */
export async function claimBuild(ex: Executor, id: string, at: Date): Promise<Build | undefined> {
  const [row] = await ex
    .update(templateBuilds)
    .set({ status: "building", startedAt: at })
    .where(and(eq(templateBuilds.id, id), eq(templateBuilds.status, "queued")))
    .returning();
  return row;
}

/** Updates a build still `building`; false when it has ended meanwhile (e.g. cancelled). */
export async function updateBuildProgress(
  ex: Executor,
  id: string,
  set: Partial<Pick<Build, "currentStep" | "steps" | "sandboxId" | "hostId">>,
): Promise<boolean> {
  const rows = await ex
    .update(templateBuilds)
    .set(set)
    .where(and(eq(templateBuilds.id, id), eq(templateBuilds.status, "building")))
    .returning({ id: templateBuilds.id });
  return rows.length > 0;
}

/**
 * Ends a build that is still queued or building with `status`; undefined when
 * it had already ended (so exactly one party decides a build's outcome).
 */
export async function finishBuild(
  ex: Executor,
  id: string,
  status: Exclude<BuildStatus, "queued" | "building">,
  set: Partial<Pick<Build, "error" | "failedStep" | "templateId" | "steps" | "currentStep">>,
  at: Date,
  teamId: string | null = null,
): Promise<Build | undefined> {
  const [row] = await ex
    .update(templateBuilds)
    .set({ ...set, status, completedAt: at })
    .where(
      and(
        eq(templateBuilds.id, id),
        inArray(templateBuilds.status, ACTIVE_BUILD_STATUSES),
        teamId === null ? undefined : eq(templateBuilds.teamId, teamId),
      ),
    )
    .returning();
  return row;
}

/** Forgets the build sandbox once it was destroyed. */
export async function clearBuildSandbox(ex: Executor, id: string): Promise<void> {
  await ex.update(templateBuilds).set({ sandboxId: null }).where(eq(templateBuilds.id, id));
}

/** Appends log entries to a build. */
export async function appendBuildLogs(
  ex: Executor,
  entries: { buildId: string; step: number; stream: BuildLog["stream"]; message: string }[],
): Promise<void> {
  if (entries.length === 0) return;
  await ex.insert(templateBuildLogs).values(entries);
}

/** Log entries of a build after entry `afterId` (0 = from the start), oldest first. */
export async function listBuildLogs(
  ex: Executor,
  buildId: string,
  afterId: number,
  limit: number,
): Promise<BuildLog[]> {
  return ex
    .select()
    .from(templateBuildLogs)
    .where(and(eq(templateBuildLogs.buildId, buildId), gt(templateBuildLogs.id, afterId)))
    .orderBy(asc(templateBuildLogs.id))
    .limit(limit);
}

/** Stores the build context files COPY steps need. */
export async function insertBuildFiles(
  ex: Executor,
  buildId: string,
  files: { path: string; mode: number; content: Buffer }[],
): Promise<void> {
  for (let i = 0; i < files.length; i += 100) {
    await ex.insert(templateBuildFiles).values(files.slice(i, i + 100).map((f) => ({ buildId, ...f })));
  }
}

/** The stored context files of a build below `prefix` (a file's own path or a directory). */
export async function listBuildFiles(
  ex: Executor,
  buildId: string,
): Promise<{ path: string; mode: number; content: Buffer }[]> {
  return ex
    .select({
      path: templateBuildFiles.path,
      mode: templateBuildFiles.mode,
      content: templateBuildFiles.content,
    })
    .from(templateBuildFiles)
    .where(eq(templateBuildFiles.buildId, buildId))
    .orderBy(asc(templateBuildFiles.path));
}

/** Drops a build's context files (the build ended). */
export async function deleteBuildFiles(ex: Executor, buildId: string): Promise<void> {
  await ex.delete(templateBuildFiles).where(eq(templateBuildFiles.buildId, buildId));
}

/** The cache layer `cacheKey` of `teamId`, or undefined. */
export async function findBuildLayer(
  ex: Executor,
  teamId: string,
  cacheKey: string,
): Promise<BuildLayer | undefined> {
  const [row] = await ex
    .select()
    .from(templateBuildLayers)
    .where(and(eq(templateBuildLayers.teamId, teamId), eq(templateBuildLayers.cacheKey, cacheKey)))
    .limit(1);
  return row;
}

/** Records a captured cache layer; false when the key was recorded concurrently. */
export async function insertBuildLayer(
  ex: Executor,
  input: Pick<BuildLayer, "id" | "teamId" | "cacheKey" | "hostId" | "sizeBytes">,
): Promise<boolean> {
  const rows = await ex
    .insert(templateBuildLayers)
    .values(input)
    .onConflictDoNothing()
    .returning({ id: templateBuildLayers.id });
  return rows.length > 0;
}

/** Marks a layer used now (eviction keeps the most recently used). */
export async function touchBuildLayer(ex: Executor, id: string, at: Date): Promise<void> {
  await ex.update(templateBuildLayers).set({ lastUsedAt: at }).where(eq(templateBuildLayers.id, id));
}

/** A team's layers beyond the `keep` most recently used (eviction candidates). */
export async function listEvictableLayers(ex: Executor, teamId: string, keep: number): Promise<BuildLayer[]> {
  return ex
    .select()
    .from(templateBuildLayers)
    .where(eq(templateBuildLayers.teamId, teamId))
    .orderBy(desc(templateBuildLayers.lastUsedAt), desc(templateBuildLayers.createdAt))
    .offset(keep);
}

/** Every layer of a team (for clean-up when the team goes). */
export async function listTeamLayers(ex: Executor, teamId: string): Promise<BuildLayer[]> {
  return ex.select().from(templateBuildLayers).where(eq(templateBuildLayers.teamId, teamId));
}

/** Removes a layer row. */
export async function deleteBuildLayer(ex: Executor, id: string): Promise<void> {
  await ex.delete(templateBuildLayers).where(eq(templateBuildLayers.id, id));
}
