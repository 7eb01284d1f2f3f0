import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { useState } from "react";
import { errorMessage } from "../../api/client.ts";
import {
  deleteSandbox,
  listSandboxes,
  pauseSandbox,
  resumeSandbox,
  type Sandbox,
  sandboxStates,
} from "../../api/sandboxes.ts";
import {
  Badge,
  Button,
  type Column,
  ConfirmDialog,
  formatDate,
  formatRelative,
  PageHeader,
  QueryView,
  Table,
  useToast,
} from "../../ui/index.ts";
import { CreateCapsuleDialog, useTemplates } from "./CreateCapsuleDialog.tsx";
import { StateBadge } from "./StateBadge.tsx";
import type { CapsulesSearch } from "./search.ts";

/** How often the list refreshes itself (silently: the last data stays on screen). */
const POLL_MS = 3_000;
const PAGE_SIZE = 20;

/** Query key of a list page; every sandbox mutation invalidates the `["sandboxes"]` prefix. */
export const sandboxesKey = (s: CapsulesSearch) => ["sandboxes", "list", s] as const;

function RunningBadge() {
  // Counted from the list API (state=running, up to 100) so the badge needs no other endpoint.
  const running = useQuery({
    queryKey: ["sandboxes", "running-count"],
    queryFn: () => listSandboxes({ state: "running", limit: 100 }),
    refetchInterval: POLL_MS,
  });
  if (!running.data) return null;
  const n = running.data.sandboxes.length;
  return (
    <Badge tone={n > 0 ? "green" : "grey"} testId="running-count" title="Running capsules">
      {running.data.next_cursor ? "100+" : n} running
    </Badge>
  );
}

function RowActions({ s, onDelete }: { s: Sandbox; onDelete: (s: Sandbox) => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [busy, setBusy] = useState<"pause" | "resume">();
  const act = async (what: "pause" | "resume") => {
    setBusy(what);
    try {
      await (what === "pause" ? pauseSandbox(s.id) : resumeSandbox(s.id));
      toast(`${s.id} ${what === "pause" ? "paused" : "resumed"}`, "success");
    } catch (err) {
      toast(errorMessage(err), "error");
    } finally {
      setBusy(undefined);
      await queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
    }
  };
  return (
    <div className="row" style={{ justifyContent: "flex-end", flexWrap: "nowrap" }}>
      <Link
        to="/capsules/$id"
        params={{ id: s.id }}
        className="btn btn-secondary btn-sm"
        data-testid="capsule-open"
      >
        Open
      </Link>
      {s.state === "running" ? (
        <Button
          size="sm"
          busy={busy === "pause"}
          onClick={() => void act("pause")}
          data-testid="capsule-pause"
        >
          Pause
        </Button>
      ) : null}
      {s.state === "paused" ? (
        <Button
          size="sm"
          busy={busy === "resume"}
          onClick={() => void act("resume")}
          data-testid="capsule-resume"
        >
          Resume
        </Button>
      ) : null}
      {s.state !== "stopped" ? (
        <Button
          size="sm"
          variant="ghost"
          onClick={() => onDelete(s)}
          data-testid="capsule-delete"
          aria-label={`Delete ${s.id}`}
        >
          Delete
        </Button>
      ) : null}
    </div>
  );
}

/**
 * Capsules (sandboxes) of the team: state/template filters and the page cursor live in the URL;
 * the list polls every few seconds without a loading flash (the previous page stays until the
 * next one arrives, unchanged rows keep their identity).
 */
export function CapsulesPage({ search }: { search: CapsulesSearch }) {
  const navigate = useNavigate({ from: "/capsules" });
  const queryClient = useQueryClient();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Sandbox>();
  const templates = useTemplates();
  const list = useQuery({
    queryKey: sandboxesKey(search),
    queryFn: ({ signal }) =>
      listSandboxes(
        { state: search.state, template: search.template, cursor: search.cursor, limit: PAGE_SIZE },
        signal,
      ),
    refetchInterval: POLL_MS,
    placeholderData: keepPreviousData,
  });
  const rows = list.data?.sandboxes ?? [];

  const columns: Column<Sandbox>[] = [
    {
      header: "Capsule",
      cell: (s) => (
        // Cut to one line by CSS (the whole id stays in the text, the title and the link).
        <Link to="/capsules/$id" params={{ id: s.id }} className="mono short-id capsule-id" title={s.id}>
          {s.id}
        </Link>
      ),
    },
    { header: "State", cell: (s) => <StateBadge state={s.state} /> },
    { header: "Template", cell: (s) => s.template },
    { header: "Size", secondary: true, cell: (s) => `${s.vcpus} vCPU · ${s.memory_mb} MiB` },
    {
      header: "Host",
      secondary: true,
      cell: (s) =>
        s.host_id ? (
          <span className="mono small short-id" title={s.host_id}>
            {s.host_id}
          </span>
        ) : (
          "—"
        ),
    },
    {
      header: "Created",
      secondary: true,
      cell: (s) => (
        <time dateTime={s.created_at} title={formatDate(s.created_at)}>
          {formatRelative(s.created_at)}
        </time>
      ),
    },
    {
      header: "Last active",
      cell: (s) =>
        s.last_active_at ? (
          <time dateTime={s.last_active_at} title={formatDate(s.last_active_at)}>
            {formatRelative(s.last_active_at)}
          </time>
        ) : (
          "—"
        ),
    },
    { header: "Actions", align: "right", cell: (s) => <RowActions s={s} onDelete={setDeleting} /> },
  ];

  const templateNames = [
    ...new Set([...(templates.data ?? []).map((t) => t.name), ...(search.template ? [search.template] : [])]),
  ];

  return (
    <section data-testid="page-capsules">
      <PageHeader title="Capsules" badge={<RunningBadge />}>
        <Button variant="primary" onClick={() => setCreating(true)} data-testid="create-capsule">
          New capsule
        </Button>
      </PageHeader>
      <div className="toolbar">
        <label className="field">
          <span>State</span>
          <select
            data-testid="filter-state"
            value={search.state ?? ""}
            onChange={(e) =>
              void navigate({
                search: (s) => ({
                  ...s,
                  state: (e.target.value || undefined) as CapsulesSearch["state"],
                  cursor: undefined,
                }),
              })
            }
          >
            <option value="">All but destroyed</option>
            {sandboxStates.map((st) => (
              <option key={st} value={st}>
                {st === "stopped" ? "stopped (destroyed)" : st}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Template</span>
          <select
            data-testid="filter-template"
            value={search.template ?? ""}
            onChange={(e) =>
              void navigate({
                search: (s) => ({ ...s, template: e.target.value || undefined, cursor: undefined }),
              })
            }
          >
            <option value="">Any template</option>
            {templateNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        {/* Only while a new filter or page loads (the previous rows stay meanwhile); a background poll shows nothing. */}
        {list.isPlaceholderData ? (
          <span className="muted small" aria-hidden="true">
            updating…
          </span>
        ) : null}
      </div>
      <QueryView query={list} loadingLabel="Loading capsules" keepDataOnError>
        {(page) => (
          <>
            <Table
              caption="Capsules"
              testId="capsules-table"
              columns={columns}
              rows={rows}
              rowKey={(s) => s.id}
              rowTestId={(s) => `capsule-row-${s.id}`}
              empty={
                search.state || search.template ? (
                  "No capsules match these filters."
                ) : (
                  <span>
                    No capsules yet.{" "}
                    <button
                      type="button"
                      className="link-btn"
                      style={{ color: "var(--accent)" }}
                      onClick={() => setCreating(true)}
                    >
                      Create your first one
                    </button>
                    .
                  </span>
                )
              }
            />
            <nav className="pager" aria-label="Pages">
              {search.cursor ? (
                <Button
                  size="sm"
                  onClick={() => void navigate({ search: (s) => ({ ...s, cursor: undefined }) })}
                  data-testid="page-first"
                >
                  First page
                </Button>
              ) : null}
              <Button
                size="sm"
                disabled={!page.next_cursor}
                onClick={() =>
                  void navigate({ search: (s) => ({ ...s, cursor: page.next_cursor ?? undefined }) })
                }
                data-testid="page-next"
              >
                Next page
              </Button>
            </nav>
            {list.isError ? <p className="form-error">Refresh failed: {errorMessage(list.error)}</p> : null}
          </>
        )}
      </QueryView>
      <CreateCapsuleDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(s) => {
          setCreating(false);
          toast(`Capsule ${s.id} is ${s.state}`, "success");
          void queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
        }}
      />
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete capsule"
        body={
          <p>
            Destroy <code>{deleting?.id}</code>? Its VM and files are deleted; this cannot be undone.
          </p>
        }
        actionLabel="Delete"
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          if (!deleting) return;
          await deleteSandbox(deleting.id);
          toast(`${deleting.id} deleted`, "success");
          await queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
        }}
      />
    </section>
  );
}
