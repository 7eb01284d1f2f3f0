/** Audit statuses (`AuditLog.status`). */
export const AUDIT_STATUSES = ["success", "info", "warning", "error"] as const;

/** Audit scopes: `admin` events are visible to team admins and owners only. */
export const AUDIT_SCOPES = ["team", "admin"] as const;

/** The audit page's filters as kept in the URL (every field optional: absent = no filter). */
export interface AuditFilters {
  /** Exact action, e.g. `create`, `delete`, `login`. */
  action?: string;
  /** Exact resource type, e.g. `sandbox`, `api_key`. */
  resource_type?: string;
  scope?: (typeof AUDIT_SCOPES)[number];
  status?: (typeof AUDIT_STATUSES)[number];
  /** Actor name or id, matched by the API as a case-insensitive substring. */
  actor?: string;
  /** Local date-time (`YYYY-MM-DDTHH:MM`, as an `<input type="datetime-local">` gives it). */
  since?: string;
  until?: string;
}

const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

function text(v: unknown, max = 100): string | undefined {
  return typeof v === "string" && v.trim() && v.length <= max ? v.trim() : undefined;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[]): T | undefined {
  return typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

function dateTime(v: unknown): string | undefined {
  return typeof v === "string" && LOCAL_DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)) ? v : undefined;
}

/** The filters from the URL's search params; anything malformed is dropped rather than failing the page. */
export function parseAuditSearch(search: Record<string, unknown>): AuditFilters {
  const out: AuditFilters = {
    action: text(search.action),
    resource_type: text(search.resource_type),
    scope: oneOf(search.scope, AUDIT_SCOPES),
    status: oneOf(search.status, AUDIT_STATUSES),
    actor: text(search.actor),
    since: dateTime(search.since),
    until: dateTime(search.until),
  };
  for (const k of Object.keys(out) as (keyof AuditFilters)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** Why a filter set cannot be sent (a time window that ends before it starts), or null. */
export function filtersProblem(f: AuditFilters): string | null {
  if (f.since && f.until && Date.parse(f.since) >= Date.parse(f.until)) {
    return "'From' must be before 'to'";
  }
  return null;
}

/**
 * The `GET /v1/audit-logs` query for a page: local times become ISO instants (so the server
 * compares instants, not the browser's wall clock), and the cursor names the page.
 */
export function auditQuery(f: AuditFilters, cursor: string | null, limit = 50): URLSearchParams {
  const q = new URLSearchParams();
  if (f.action) q.set("action", f.action);
  if (f.resource_type) q.set("resource_type", f.resource_type);
  if (f.scope) q.set("scope", f.scope);
  if (f.status) q.set("status", f.status);
  if (f.actor) q.set("actor", f.actor);
  if (f.since) q.set("since", new Date(f.since).toISOString());
  if (f.until) q.set("until", new Date(f.until).toISOString());
  if (cursor) q.set("cursor", cursor);
  q.set("limit", String(limit));
  return q;
}

/**
 * Cursor pagination kept as a stack: the API only walks forward (older), so going back to a
 * newer page means remembering the cursors that led here. `null` is the first page.
 */
export interface CursorStack {
  readonly stack: readonly (string | null)[];
}

/** The first page. */
export const FIRST_PAGE: CursorStack = { stack: [null] };

/** The cursor of the page shown. */
export function currentCursor(s: CursorStack): string | null {
  return s.stack.at(-1) ?? null;
}

/** One page older, to `next` (the `next_cursor` the current page answered). */
export function olderPage(s: CursorStack, next: string): CursorStack {
  return { stack: [...s.stack, next] };
}

/** One page newer; the first page stays the first page. */
export function newerPage(s: CursorStack): CursorStack {
  return s.stack.length > 1 ? { stack: s.stack.slice(0, -1) } : s;
}

/** The 1-based number of the page shown. */
export function pageNumber(s: CursorStack): number {
  return s.stack.length;
}
