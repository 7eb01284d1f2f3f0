import { and, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { type AuditScope, auditLogs } from "../schema.ts";

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
  before?: string;
  limit: number;
}

/** The events of one team, newest first, keyset-paginated by (created_at, id). */
export async function listAuditLogs(ex: Executor, q: AuditQuery): Promise<AuditLog[]> {
  const conds: (SQL | undefined)[] = [eq(auditLogs.teamId, q.teamId), inArray(auditLogs.scope, q.scopes)];
  if (q.resourceTypes?.length) conds.push(inArray(auditLogs.resourceType, q.resourceTypes));
  if (q.actions?.length) conds.push(inArray(auditLogs.action, q.actions));
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
