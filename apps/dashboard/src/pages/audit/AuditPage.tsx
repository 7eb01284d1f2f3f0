import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { type AuditEvent, listAuditEvents, listPlatformAuditEvents } from "../../api/audit.ts";
import {
  Badge,
  type BadgeTone,
  Button,
  type Column,
  ErrorView,
  Field,
  formatDate,
  Loading,
  PageHeader,
  Table,
} from "../../ui/index.ts";
import {
  AUDIT_SCOPES,
  AUDIT_STATUSES,
  type AuditFilters,
  auditQuery,
  type CursorStack,
  currentCursor,
  FIRST_PAGE,
  filtersProblem,
  newerPage,
  olderPage,
  pageNumber,
} from "./filters.ts";
import "../pages.css";

// Suggestions only: the fields take any text, so events added later need no change here.
const KNOWN_ACTIONS = [
  "create",
  "delete",
  "pause",
  "resume",
  "add",
  "remove",
  "rename",
  "role_update",
  "leave",
  "login",
  "signup",
  "revoke",
  "register",
  "regenerate_token",
  "set_byoc",
];
const KNOWN_RESOURCES = ["sandbox", "template", "api_key", "team", "member", "user", "host", "channel"];

const STATUS_TONE: Record<AuditEvent["status"], BadgeTone> = {
  success: "green",
  info: "blue",
  warning: "yellow",
  error: "red",
};

/** Metadata as short `key=value` text; the full JSON is in the cell's tooltip. */
function metadataText(m: Record<string, unknown>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

const columns: Column<AuditEvent>[] = [
  { header: "Time", cell: (e) => <span className="small">{formatDate(e.created_at)}</span> },
  {
    header: "Actor",
    cell: (e) => (
      <span title={e.actor.id}>
        {e.actor.name || e.actor.id}{" "}
        {e.actor.type !== "user" ? (
          <span className="muted small">({e.actor.type.replace("_", " ")})</span>
        ) : null}
      </span>
    ),
  },
  {
    header: "Event",
    cell: (e) => (
      <code className="mono">
        {e.resource_type}.{e.action}
      </code>
    ),
  },
  { header: "Resource", cell: (e) => <span className="mono small">{e.resource_id}</span>, secondary: true },
  {
    header: "Status",
    cell: (e) => (
      <span className="row">
        <Badge tone={STATUS_TONE[e.status]}>{e.status}</Badge>
        {e.scope === "admin" ? <Badge tone="neutral">admin</Badge> : null}
      </span>
    ),
  },
  {
    header: "Details",
    secondary: true,
    cell: (e) => (
      <span className="small muted" title={JSON.stringify(e.metadata, null, 2)}>
        {metadataText(e.metadata)}
      </span>
    ),
  },
];

/** The filter form: edits a draft, applied to the URL on submit (so typing does not refetch per key). */
function FilterForm({ filters, onApply }: { filters: AuditFilters; onApply: (f: AuditFilters) => void }) {
  const [draft, setDraft] = useState<AuditFilters>(filters);
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: keyof AuditFilters) => (e: { target: { value: string } }) =>
    setDraft((d) => ({ ...d, [k]: e.target.value || undefined }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = filtersProblem(draft);
    setProblem(p);
    if (!p) onApply(draft);
  };
  return (
    <form className="panel page-section" onSubmit={submit} noValidate data-testid="audit-filters">
      <div className="filters">
        <Field label="Action">
          {(a) => (
            <>
              <input
                {...a}
                list="audit-actions"
                value={draft.action ?? ""}
                onChange={set("action")}
                data-testid="audit-filter-action"
              />
              <datalist id="audit-actions">
                {KNOWN_ACTIONS.map((x) => (
                  <option key={x} value={x} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="Resource">
          {(a) => (
            <>
              <input
                {...a}
                list="audit-resources"
                value={draft.resource_type ?? ""}
                onChange={set("resource_type")}
                data-testid="audit-filter-resource"
              />
              <datalist id="audit-resources">
                {KNOWN_RESOURCES.map((x) => (
                  <option key={x} value={x} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="Scope">
          {(a) => (
            <select {...a} value={draft.scope ?? ""} onChange={set("scope")} data-testid="audit-filter-scope">
              <option value="">Any</option>
              {AUDIT_SCOPES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Status">
          {(a) => (
            <select
              {...a}
              value={draft.status ?? ""}
              onChange={set("status")}
              data-testid="audit-filter-status"
            >
              <option value="">Any</option>
              {AUDIT_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Actor">
          {(a) => (
            <input
              {...a}
              value={draft.actor ?? ""}
              placeholder="name or id"
              onChange={set("actor")}
              data-testid="audit-filter-actor"
            />
          )}
        </Field>
        <Field label="From">
          {(a) => (
            <input
              {...a}
              type="datetime-local"
              value={draft.since ?? ""}
              onChange={set("since")}
              data-testid="audit-filter-since"
            />
          )}
        </Field>
        <Field label="To">
          {(a) => (
            <input
              {...a}
              type="datetime-local"
              value={draft.until ?? ""}
              onChange={set("until")}
              data-testid="audit-filter-until"
            />
          )}
        </Field>
      </div>
      {problem ? (
        <p className="form-error" role="alert">
          {problem}
        </p>
      ) : null}
      <div className="row">
        <Button type="submit" variant="primary" data-testid="audit-apply">
          Apply filters
        </Button>
        <Button
          onClick={() => {
            setDraft({});
            setProblem(null);
            onApply({});
          }}
        >
          Clear
        </Button>
      </div>
    </form>
  );
}

/** The table of one filter set, with its own page stack (a new filter starts at the newest page). */
export function AuditTable({
  filters,
  feed = "team",
}: {
  filters: AuditFilters;
  /** `team`: the current team's trail; `platform`: events of no team (admins only). */
  feed?: "team" | "platform";
}) {
  const [pages, setPages] = useState<CursorStack>(FIRST_PAGE);
  const cursor = currentCursor(pages);
  const events = useQuery({
    queryKey: ["audit", feed, filters, cursor],
    queryFn: ({ signal }) =>
      feed === "team"
        ? listAuditEvents(auditQuery(filters, cursor), signal)
        : listPlatformAuditEvents(cursor, signal),
    placeholderData: keepPreviousData,
  });
  if (events.isPending) return <Loading label="Loading events" />;
  if (events.isError && !events.data)
    return <ErrorView error={events.error} onRetry={() => void events.refetch()} />;
  const next = events.data.next_cursor;
  return (
    <>
      <Table
        caption="Audit events"
        testId="audit-table"
        columns={columns}
        rows={events.data.items}
        rowKey={(e) => e.id}
        rowTestId={(e) => `audit-row-${e.resource_type}.${e.action}`}
        empty={Object.keys(filters).length ? "No events match these filters." : "No events yet."}
      />
      <nav className="pager" aria-label="Audit pages">
        <Button
          size="sm"
          disabled={pageNumber(pages) === 1}
          onClick={() => setPages(newerPage)}
          data-testid="audit-newer"
        >
          ← Newer
        </Button>
        <span className="muted small" data-testid="audit-page">
          Page {pageNumber(pages)}
        </span>
        <Button
          size="sm"
          disabled={!next || events.isPlaceholderData}
          onClick={() => next && setPages((p) => olderPage(p, next))}
          data-testid="audit-older"
        >
          Older →
        </Button>
      </nav>
    </>
  );
}

/**
 * `/audit`: the team's audit trail, newest first, filtered by action, resource, scope, status,
 * actor and time (filters in the URL), paged with the API's cursor. Members see team events;
 * admins and owners also admin events.
 */
export function AuditPage({
  filters,
  onFilters,
}: {
  filters: AuditFilters;
  onFilters: (f: AuditFilters) => void;
}) {
  const key = JSON.stringify(filters);
  return (
    <section data-testid="page-audit">
      <PageHeader title="Audit log" />
      <FilterForm key={`form-${key}`} filters={filters} onApply={onFilters} />
      <AuditTable key={key} filters={filters} />
    </section>
  );
}
