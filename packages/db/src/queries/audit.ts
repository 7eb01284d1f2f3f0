import { and, desc, eq, inArray, lt, or, type SQL } from "drizzle-orm";
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

/** Filters for {@link listAuditLogs}; `before` is the keyset cursor (exclusive). */
export interface AuditQuery {
  teamId: string;
  scopes: AuditScope[];
  resourceTypes?: string[];
  actions?: string[];
  before?: { createdAt: Date; id: string };
  limit: number;
}

/** The events of one team, newest first, keyset-paginated by (created_at, id). */
export async function listAuditLogs(ex: Executor, q: AuditQuery): Promise<AuditLog[]> {
  const conds: (SQL | undefined)[] = [eq(auditLogs.teamId, q.teamId), inArray(auditLogs.scope, q.scopes)];
  if (q.resourceTypes?.length) conds.push(inArray(auditLogs.resourceType, q.resourceTypes));
  if (q.actions?.length) conds.push(inArray(auditLogs.action, q.actions));
  if (q.before) {
    conds.push(
      or(
        lt(auditLogs.createdAt, q.before.createdAt),
        and(eq(auditLogs.createdAt, q.before.createdAt), lt(auditLogs.id, q.before.id)),
      ),
    );
  }
  return ex
    .select()
    .from(auditLogs)
    .where(and(...conds))
    .orderBy(desc(auditLogs.createdAt), desc(auditLogs.id))
    .limit(q.limit);
}
