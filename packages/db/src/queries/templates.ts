import { and, asc, desc, eq, isNull, ne, or } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { PLATFORM_TEAM_ID, templates } from "../schema.ts";
import { insertedRow } from "./returned.ts";
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
    /** Settings a build gives its template (ENV / USER / WORKDIR, disk size). */
    envs?: Record<string, string>;
    defaultUser?: string | null;
    defaultWorkdir?: string | null;
    diskSizeMb?: number | null;
  },
): Promise<Template> {
  const [row] = await ex.insert(templates).values(input).returning();
  return insertedRow(row, "templates");
}

/** Deletes the template row `id`; false when it was already gone. */
export async function deleteTemplateRow(ex: Executor, id: string): Promise<boolean> {
  const rows = await ex.delete(templates).where(eq(templates.id, id)).returning({ id: templates.id });
  return rows.length > 0;
}

/**
 * Records the size a host reported for the platform templates every host builds itself (no
 * host of their own: `minimal`), where it differs; their rows start at 0 bytes.
 */
export async function setHostBuiltTemplateSize(ex: Executor, sizeBytes: number): Promise<number> {
  const rows = await ex
    .update(templates)
    .set({ sizeBytes })
    .where(
      and(
        eq(templates.teamId, PLATFORM_TEAM_ID),
        isNull(templates.hostId),
        ne(templates.sizeBytes, sizeBytes),
      ),
    )
    .returning({ id: templates.id });
  return rows.length;
}
