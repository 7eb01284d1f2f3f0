import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "@tanstack/react-router";
import { type FormEvent, lazy, type MouseEvent, Suspense, useState } from "react";
import { errorMessage } from "../../api/client.ts";
import {
  createPortTicket,
  deleteSandbox,
  forkSandbox,
  getSandbox,
  pauseSandbox,
  resumeSandbox,
  type Sandbox,
  snapshotSandbox,
} from "../../api/sandboxes.ts";
import {
  Button,
  ConfirmDialog,
  Dialog,
  ErrorView,
  Field,
  formatDate,
  formatRelative,
  Loading,
  PageHeader,
  useToast,
} from "../../ui/index.ts";
import { FilesTab } from "./FilesTab.tsx";
import { ProcessesTab } from "./ProcessesTab.tsx";
import { isValidPort, portUrl, ticketUrl } from "./ports.ts";
import { StateBadge } from "./StateBadge.tsx";
import { type CapsuleSearch, type CapsuleTab, capsuleTabs, HOME_DIR } from "./search.ts";

// The terminal (xterm.js) and the charts (Chart.js) load when their tab is first opened.
const SandboxTerminal = lazy(() =>
  import("./terminal/Terminal.tsx").then((m) => ({ default: m.SandboxTerminal })),
);
const MetricsTab = lazy(() => import("./MetricsTab.tsx").then((m) => ({ default: m.MetricsTab })));

const tabLabels: Record<CapsuleTab, string> = {
  overview: "Overview",
  terminal: "Terminal",
  files: "Files",
  processes: "Processes",
  metrics: "Metrics",
};

/** Tabs that talk to the running guest (need state running). */
const liveTabs: ReadonlySet<CapsuleTab> = new Set(["terminal", "files", "processes"]);

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Opens a sandbox port in a new tab with a freshly minted single-use ticket. The tab is opened at
 * once, inside the click (a tab opened after an await is taken for a popup and blocked), and sent
 * to the ticket URL when the API answers; on an error it is closed again and the error shown.
 */
async function openPort(sandboxId: string, port: number, url: string, onError: (message: string) => void) {
  const tab = window.open("about:blank", "_blank");
  if (!tab) {
    onError("The browser blocked the new tab; allow pop-ups for this site and try again.");
    return;
  }
  tab.opener = null; // the port's page must not reach back into the dashboard
  try {
    const { ticket, param } = await createPortTicket(sandboxId, port);
    tab.location.href = ticketUrl(url, ticket, param);
  } catch (err) {
    tab.close();
    onError(errorMessage(err));
  }
}

function PortLinks({ sandbox }: { sandbox: Sandbox }) {
  const toast = useToast();
  const [port, setPort] = useState("");
  const [ports, setPorts] = useState<number[]>([]);
  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!isValidPort(port)) return;
    setPorts((ps) => [...new Set([...ps, Number(port)])]);
    setPort("");
  };
  const open = (e: MouseEvent, p: number, url: string) => {
    e.preventDefault();
    void openPort(sandbox.id, p, url, (message) => toast(message, "error"));
  };
  return (
    <div className="panel" data-testid="capsule-ports">
      <h3>Exposed ports</h3>
      <p className="muted small">
        Any port a process listens on inside the capsule is served at these addresses by the port proxy. A
        link opened here signs this browser in to that one port (a short-lived cookie for its address);
        scripts send a team API key instead, e.g. <code>curl -H "X-API-Key: wrn_…" &lt;address&gt;</code>.
      </p>
      <form className="row" onSubmit={add} noValidate>
        <label htmlFor="port-input" className="sr-only">
          Port
        </label>
        <input
          id="port-input"
          data-testid="port-input"
          inputMode="numeric"
          placeholder="3000"
          value={port}
          onChange={(e) => setPort(e.target.value)}
          aria-invalid={port && !isValidPort(port) ? true : undefined}
          style={{ width: 100 }}
        />
        <Button type="submit" size="sm" disabled={!isValidPort(port)}>
          Add link
        </Button>
      </form>
      <ul>
        {ports.map((p) => {
          const url = portUrl(p, sandbox.id, window.location);
          return (
            <li key={p}>
              <a
                href={url}
                target="_blank"
                rel="noreferrer"
                data-testid={`port-link-${p}`}
                title={`Open port ${p} in a new tab`}
                onClick={(e) => open(e, p, url)}
              >
                {url}
              </a>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function Overview({ sandbox }: { sandbox: Sandbox }) {
  const meta = Object.entries(sandbox.metadata);
  return (
    <div className="grid-2">
      <div className="panel">
        <h3>Details</h3>
        <dl className="kv" data-testid="capsule-details">
          <dt>ID</dt>
          <dd className="mono">{sandbox.id}</dd>
          <dt>State</dt>
          <dd>
            <StateBadge state={sandbox.state} />
          </dd>
          <dt>Template</dt>
          <dd>{sandbox.template}</dd>
          <dt>Host</dt>
          <dd className="mono small">{sandbox.host_id ?? "—"}</dd>
          <dt>Size</dt>
          <dd>
            {sandbox.vcpus} vCPU · {sandbox.memory_mb} MiB RAM · {sandbox.disk_size_mb} MiB disk
          </dd>
          <dt>Idle timeout</dt>
          <dd>{sandbox.timeout_sec === 0 ? "never pauses" : `${sandbox.timeout_sec} s`}</dd>
          <dt>Created</dt>
          <dd>{formatDate(sandbox.created_at)}</dd>
          <dt>Last active</dt>
          <dd>{formatRelative(sandbox.last_active_at)}</dd>
        </dl>
      </div>
      <div className="panel">
        <h3>Metadata</h3>
        {meta.length ? (
          <dl className="kv">
            {meta.map(([k, v]) => (
              <div key={k} style={{ display: "contents" }}>
                <dt className="mono">{k}</dt>
                <dd className="mono">{v}</dd>
              </div>
            ))}
          </dl>
        ) : (
          <p className="muted">No metadata.</p>
        )}
      </div>
      {sandbox.state === "running" ? <PortLinks sandbox={sandbox} /> : null}
    </div>
  );
}

function SnapshotDialog({
  sandbox,
  open,
  onClose,
}: {
  sandbox: Sandbox;
  open: boolean;
  onClose: () => void;
}) {
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const queryClient = useQueryClient();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (name && !SNAPSHOT_NAME.test(name)) {
      setError("Use 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const t = await snapshotSandbox(sandbox.id, name || undefined);
      toast(`Snapshot ${t.name} saved`, "success");
      await queryClient.invalidateQueries({ queryKey: ["templates"] });
      setName("");
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} title="Snapshot capsule" onClose={onClose} testId="snapshot-dialog">
      <form onSubmit={submit} noValidate>
        <p className="muted">
          Captures memory and disk as a template; new capsules start from it in a fraction of a second. This
          capsule keeps running.
        </p>
        <Field
          label="Name"
          hint="Leave empty for a generated name. An existing snapshot of that name is replaced."
          error={error}
        >
          {(a) => (
            <input
              {...a}
              data-testid="snapshot-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="my-env"
            />
          )}
        </Field>
        <div className="dialog-footer-inline">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} data-testid="snapshot-submit">
            Take snapshot
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

/** One capsule: overview, terminal, files, processes and metrics, as tabs kept in the URL. */
export function CapsulePage({ id, search }: { id: string; search: CapsuleSearch }) {
  const navigate = useNavigate({ from: "/capsules/$id" });
  const queryClient = useQueryClient();
  const toast = useToast();
  const [deleting, setDeleting] = useState(false);
  const [snapshotting, setSnapshotting] = useState(false);
  const [busy, setBusy] = useState<string>();
  const sb = useQuery({
    queryKey: ["sandboxes", "one", id],
    queryFn: () => getSandbox(id),
    refetchInterval: 3_000,
  });

  if (sb.isPending) return <Loading label="Loading capsule" />;
  if (sb.isError && !sb.data) {
    return (
      <section data-testid="page-capsule">
        <PageHeader title="Capsule" />
        <ErrorView error={sb.error} onRetry={() => void sb.refetch()} />
        <p>
          <Link to="/capsules">Back to capsules</Link>
        </p>
      </section>
    );
  }
  const s = sb.data;
  const act = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(what);
    try {
      await fn();
      toast(`${s.id}: ${what} done`, "success");
    } catch (err) {
      toast(errorMessage(err), "error");
    } finally {
      setBusy(undefined);
      await queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
    }
  };
  const tab = search.tab ?? "overview";
  const needsRunning = liveTabs.has(tab) && s.state !== "running";

  return (
    <section data-testid="page-capsule" data-state={s.state}>
      <p className="small">
        <Link to="/capsules">← Capsules</Link>
      </p>
      <PageHeader title={s.id} badge={<StateBadge state={s.state} />}>
        {s.state === "running" ? (
          <>
            <Button
              busy={busy === "pause"}
              onClick={() => void act("pause", () => pauseSandbox(s.id))}
              data-testid="detail-pause"
            >
              Pause
            </Button>
            <Button onClick={() => setSnapshotting(true)} data-testid="detail-snapshot">
              Snapshot
            </Button>
            <Button
              busy={busy === "fork"}
              title="A new capsule that goes on from this one's memory, processes and files"
              onClick={() =>
                void act("fork", async () => {
                  const [fork] = (await forkSandbox(s.id)).sandboxes;
                  if (fork) await navigate({ to: "/capsules/$id", params: { id: fork.id } });
                })
              }
              data-testid="detail-fork"
            >
              Fork
            </Button>
          </>
        ) : null}
        {s.state === "paused" ? (
          <Button
            variant="primary"
            busy={busy === "resume"}
            onClick={() => void act("resume", () => resumeSandbox(s.id))}
            data-testid="detail-resume"
          >
            Resume
          </Button>
        ) : null}
        {s.state !== "stopped" ? (
          <Button variant="danger" onClick={() => setDeleting(true)} data-testid="detail-delete">
            Delete
          </Button>
        ) : null}
      </PageHeader>
      <nav className="tabs" aria-label="Capsule sections">
        {capsuleTabs.map((t) => (
          <Link
            key={t}
            to="/capsules/$id"
            params={{ id }}
            search={{ ...search, tab: t }}
            aria-current={t === tab ? "page" : undefined}
            className={t === tab ? "active" : undefined}
            data-testid={`tab-${t}`}
          >
            {tabLabels[t]}
          </Link>
        ))}
      </nav>
      <div>
        {needsRunning ? (
          <div className="panel">
            {s.state === "pending" || s.state === "starting" ? (
              <Loading
                label={`Starting the capsule; its ${tabLabels[tab].toLowerCase()} opens when it is running`}
              />
            ) : (
              <p>
                This capsule is <strong>{s.state}</strong>.{" "}
                {s.state === "paused"
                  ? `Resume it to use its ${tabLabels[tab].toLowerCase()}.`
                  : `Only a running capsule has ${tabLabels[tab].toLowerCase()}.`}
              </p>
            )}
            {s.state === "paused" ? (
              <Button
                variant="primary"
                busy={busy === "resume"}
                onClick={() => void act("resume", () => resumeSandbox(s.id))}
              >
                Resume
              </Button>
            ) : null}
          </div>
        ) : tab === "overview" ? (
          <Overview sandbox={s} />
        ) : tab === "terminal" ? (
          <Suspense fallback={<Loading label="Loading the terminal" />}>
            <SandboxTerminal sandboxId={s.id} />
          </Suspense>
        ) : tab === "files" ? (
          <FilesTab sandboxId={s.id} path={search.path ?? HOME_DIR} />
        ) : tab === "processes" ? (
          <ProcessesTab sandboxId={s.id} />
        ) : (
          <Suspense fallback={<Loading label="Loading charts" />}>
            <MetricsTab sandboxId={s.id} range={search.range ?? "5m"} />
          </Suspense>
        )}
      </div>
      <SnapshotDialog sandbox={s} open={snapshotting} onClose={() => setSnapshotting(false)} />
      <ConfirmDialog
        open={deleting}
        title="Delete capsule"
        body={
          <p>
            Destroy <code>{s.id}</code>? Its VM and files are deleted; this cannot be undone.
          </p>
        }
        actionLabel="Delete"
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await deleteSandbox(s.id);
          toast(`${s.id} deleted`, "success");
          await queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
          await navigate({ to: "/capsules" });
        }}
      />
    </section>
  );
}
