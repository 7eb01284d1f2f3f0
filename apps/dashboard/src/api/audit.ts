import { api } from "./client.ts";

/** One audit event. */
export interface AuditEvent {
  id: string;
  team_id: string | null;
  actor: { type: string; id: string; name: string };
  resource_type: string;
  resource_id: string;
  action: string;
  scope: "team" | "admin";
  status: "success" | "info" | "warning" | "error";
  metadata: Record<string, unknown>;
  created_at: string;
}

/** One page of the trail, newest first; `next_cursor` names the next (older) page. */
export interface AuditPage {
  items: AuditEvent[];
  next_cursor: string | null;
}

/** A page of the current team's audit trail for a query built by `auditQuery`. */
export function listAuditEvents(query: URLSearchParams, signal?: AbortSignal): Promise<AuditPage> {
  return api("GET", `/v1/audit-logs?${query.toString()}`, { signal });
}

/** A page of platform-wide events (those of no team, e.g. admin flag changes; platform admins). */
export function listPlatformAuditEvents(cursor: string | null, signal?: AbortSignal): Promise<AuditPage> {
  return api("GET", "/v1/admin/audit-logs", { query: { cursor: cursor ?? undefined, limit: 50 }, signal });
}
