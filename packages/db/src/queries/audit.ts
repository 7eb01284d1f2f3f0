import { and, desc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { type AuditScope, type AuditStatus, auditLogs } from "../schema.ts";

/** An audit log row. */
export type AuditLog = typeof auditLogs.$inferSelect;
/** The fields of a new audit event. */
export type NewAuditLog = typeof auditLogs.$inferInsert;

/** Appends one audit event. */
export async function insertAuditLog(ex: Executor, entry: NewAuditLog): Promise<void> {
  await ex.insert(auditLogs).values(entry);
}

/** Filters for {@link listAuditLogs}; `before` is the id of the last event already seen (exclusive keyset cursor). */
export interface AuditQuery {
  teamId: string;
  scopes: AuditScope[];
  resourceTypes?: string[];
  actions?: string[];
  statuses?: AuditStatus[];
  /** Case-insensitive substring of the actor's name, or the actor's exact id. */
  actor?: string;
  /** Events at or after this instant. */
  since?: Date;
  /** Events strictly before this instant. */
  until?: Date;
  before?: string;
  limit: number;
}

/** The events of one team, newest first, keyset-paginated by (created_at, id). */
export async function listAuditLogs(ex: Executor, q: AuditQuery): Promise<AuditLog[]> {
  const conds: (SQL | undefined)[] = [eq(auditLogs.teamId, q.teamId), inArray(auditLogs.scope, q.scopes)];
  if (q.resourceTypes?.length) conds.push(inArray(auditLogs.resourceType, q.resourceTypes));
  if (q.actions?.length) conds.push(inArray(auditLogs.action, q.actions));
  if (q.statuses?.length) conds.push(inArray(auditLogs.status, q.statuses));
  if (q.actor) {
    // strpos, not LIKE: the typed text may hold % or _, which must match literally.
    conds.push(
      or(eq(auditLogs.actorId, q.actor), sql`strpos(lower(${auditLogs.actorName}), lower(${q.actor})) > 0`),
    );
  }
  if (q.since) conds.push(gte(auditLogs.createdAt, q.since));
  if (q.until) conds.push(lt(auditLogs.createdAt, q.until));
  if (q.before) {
    // Compared in SQL so the microsecond timestamps never round-trip through JS Dates.
    conds.push(
      sql`(${auditLogs.createdAt}, ${auditLogs.id}) < (SELECT a.created_at, a.id FROM audit_logs a WHERE a.id = ${q.before} AND a.team_id = ${q.teamId})`,
    );
  }
  return ex
    .select()
    .from(auditLogs)
    .where(and(...conds))
    .orderBy(desc(auditLogs.createdAt), desc(auditLogs.id))
    .limit(q.limit);
}

/**
 * Wire ids (`tpl-…`) of the templates of `teamId` captured from sandbox `sandboxWireId`
 * (`sb-…`), as their successful creations were audited (template rows do not keep their source).
 */
export async function templatesCapturedFrom(
  ex: Executor,
  teamId: string,
  sandboxWireId: string,
): Promise<string[]> {
  const rows = await ex
    .selectDistinct({ resourceId: auditLogs.resourceId })
    .from(auditLogs)
    .where(
      and(
        eq(auditLogs.teamId, teamId),
        eq(auditLogs.resourceType, "template"),
        eq(auditLogs.action, "create"),
        eq(auditLogs.status, "success"),
        sql`${auditLogs.metadata}->>'sandbox_id' = ${sandboxWireId}`,
      ),
    );
  return rows.map((r) => r.resourceId);
}
