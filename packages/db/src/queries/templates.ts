import { and, asc, desc, eq, or } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { PLATFORM_TEAM_ID, templates } from "../schema.ts";
import type { Template } from "./sandboxes.ts";

/** Kinds of template: a memory + disk snapshot, or an image-only (flattened disk) template. */
export type TemplateType = Template["type"];

/** The template `name` owned by `teamId` itself (platform templates not included), or undefined. */
export async function getOwnTemplate(
  ex: Executor,
  teamId: string,
  name: string,
): Promise<Template | undefined> {
  const [row] = await ex
    .select()
    .from(templates)
    .where(and(eq(templates.teamId, teamId), eq(templates.name, name)))
    .limit(1);
  return row;
}

/** Templates `teamId` may use: its own and the platform's, platform first, then newest first. */
export async function listVisibleTemplates(
  ex: Executor,
  teamId: string,
  type?: TemplateType,
): Promise<Template[]> {
  const rows = await ex
    .select()
    .from(templates)
    .where(
      and(
        or(eq(templates.teamId, teamId), eq(templates.teamId, PLATFORM_TEAM_ID)),
        type ? eq(templates.type, type) : undefined,
      ),
    )
    .orderBy(desc(templates.createdAt), asc(templates.name));
  return [...rows.filter((t) => t.teamId === PLATFORM_TEAM_ID), ...rows.filter((t) => t.teamId === teamId)];
}

/** Every template of every team (platform admins), newest first. */
export async function listAllTemplates(ex: Executor): Promise<Template[]> {
  return ex.select().from(templates).orderBy(desc(templates.createdAt), asc(templates.name));
}

/** The templates `teamId` owns (for cleaning up a deleted team). */
export async function listOwnTemplates(ex: Executor, teamId: string): Promise<Template[]> {
  return ex.select().from(templates).where(eq(templates.teamId, teamId));
}

/** Records a template whose files exist on `hostId`; a taken (team, name) is a unique violation. */
export async function insertTemplate(
  ex: Executor,
  input: {
    id: string;
    teamId: string;
    name: string;
    type: TemplateType;
    vcpus: number;
    memoryMb: number;
    sizeBytes: number;
    hostId: string | null;
  },
): Promise<Template> {
  const [row] = await ex.insert(templates).values(input).returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

/** Deletes the template row `id`; false when it was already gone. */
export async function deleteTemplateRow(ex: Executor, id: string): Promise<boolean> {
  const rows = await ex.delete(templates).where(eq(templates.id, id)).returning({ id: templates.id });
  return rows.length > 0;
}
