import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { type BuildLog, type BuildScope, buildLogs, cancelBuild, getBuild } from "../../api/builds.ts";
import { errorMessage } from "../../api/client.ts";
import { Badge, Button, ErrorView, formatDate, Loading, PageHeader, useToast } from "../../ui/index.ts";
import { BUILD_TONE } from "./BuildsPage.tsx";
import { appendLogs, duration, isFinished } from "./logic.ts";
import "../pages.css";

/**
 * The build's log, read with the API's cursor every 1.5 s while it runs (each poll asks only for
 * lines after the last one shown) and once more after it ends; the view follows the tail unless
 * the user has scrolled up.
 */
function useBuildLog(scope: BuildScope, id: string) {
  const [lines, setLines] = useState<BuildLog[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let after = 0;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ctrl = new AbortController();
    const poll = async () => {
      try {
        const page = await buildLogs(scope, id, after, ctrl.signal);
        after = page.next_after;
        setLines((shown) => appendLogs(shown, page.logs));
        setError(undefined);
        // A full page means more is waiting: read on at once.
        if (isFinished(page.status) && page.logs.length === 0) return;
      } catch (err) {
        if (ctrl.signal.aborted) return;
        setError(err);
      }
      if (!stopped) timer = setTimeout(poll, 1_500);
    };
    void poll();
    return () => {
      stopped = true;
      ctrl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [scope, id]);
  return { lines, error };
}

function LogView({ lines }: { lines: BuildLog[] }) {
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scrolls when lines arrive
  useEffect(() => {
    const el = box.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  return (
    <div
      ref={box}
      role="log"
      className="build-log mono"
      data-testid="build-log"
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus so the keyboard can scroll it
      tabIndex={0}
      aria-label="Build log"
      onScroll={(e) => {
        const el = e.currentTarget;
        follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.length === 0 ? <span className="muted">No output yet.</span> : null}
      {lines.map((l) => (
        <div key={l.id} className={`log-${l.stream}`}>
          {l.step ? <span className="muted">[{l.step}] </span> : null}
          {l.message}
        </div>
      ))}
    </div>
  );
}

/** `/builds/$id` and `/admin/builds/$id`: a build's steps, status, error and live log, with cancel while it runs. */
export function BuildPage({ id, scope = "team" }: { id: string; scope?: BuildScope }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const build = useQuery({
    queryKey: ["build", scope, id],
    queryFn: ({ signal }) => getBuild(scope, id, signal),
    refetchInterval: (q) => (q.state.data && isFinished(q.state.data.status) ? false : 2_000),
  });
  const log = useBuildLog(scope, id);
  const [cancelling, setCancelling] = useState(false);

  if (build.isPending) return <Loading label="Loading the build" />;
  if (build.isError) {
    return (
      <section data-testid="page-build">
        <PageHeader title="Build" />
        <ErrorView error={build.error} onRetry={() => void build.refetch()} />
      </section>
    );
  }
  const b = build.data;
  return (
    <section data-testid="page-build">
      <PageHeader
        title={`Build of ${b.name}`}
        badge={
          <Badge tone={BUILD_TONE[b.status]} testId="build-status">
            {b.status}
          </Badge>
        }
      >
        {isFinished(b.status) ? null : (
          <Button
            variant="danger"
            busy={cancelling}
            data-testid="build-cancel"
            onClick={async () => {
              setCancelling(true);
              try {
                await cancelBuild(scope, b.id);
                await queryClient.invalidateQueries({ queryKey: ["build", scope, id] });
              } catch (err) {
                toast(errorMessage(err), "error");
              } finally {
                setCancelling(false);
              }
            }}
          >
            Cancel build
          </Button>
        )}
      </PageHeader>
      <p>
        {scope === "team" ? (
          <Link to="/builds">← All builds</Link>
        ) : (
          <Link to="/admin/builds">← All builds</Link>
        )}
        {b.status === "ready" ? (
          <>
            {" · "}
            <Link to="/templates">Template {b.name} is ready</Link>
          </>
        ) : null}
      </p>
      <div className="grid-2 page-section">
        <section className="panel">
          <h2>Build</h2>
          <dl className="kv">
            <dt>Source</dt>
            <dd>
              {b.source} from <code>{b.base_template}</code>
            </dd>
            <dt>Size</dt>
            <dd>
              {b.vcpus} vCPU · {b.memory_mb} MiB · {b.disk_size_mb} MiB disk
            </dd>
            <dt>Queued</dt>
            <dd>{formatDate(b.created_at)}</dd>
            <dt>Took</dt>
            <dd>{duration(b.started_at, b.completed_at)}</dd>
            {b.start_cmd ? (
              <>
                <dt>Start</dt>
                <dd>
                  <code>{b.start_cmd}</code>
                </dd>
              </>
            ) : null}
          </dl>
        </section>
        <section className="panel">
          <h2>
            Steps ({b.current_step}/{b.total_steps})
          </h2>
          <ol className="build-steps" data-testid="build-steps">
            {b.steps.map((s) => (
              <li key={s.index}>
                <Badge
                  tone={
                    s.status === "failed"
                      ? "red"
                      : s.status === "running"
                        ? "yellow"
                        : s.status === "pending" || s.status === "skipped"
                          ? "grey"
                          : "green"
                  }
                >
                  {s.status}
                </Badge>{" "}
                <code>{s.description}</code>
                {s.exit_code !== null && s.exit_code !== 0 ? (
                  <span className="muted small"> exit {s.exit_code}</span>
                ) : null}
              </li>
            ))}
          </ol>
        </section>
      </div>
      {b.error ? (
        <pre className="error-view build-error" role="alert" data-testid="build-error">
          {b.error}
        </pre>
      ) : null}
      <section className="panel">
        <h2>Log</h2>
        {log.error ? <p className="form-error">Could not read the log: {errorMessage(log.error)}</p> : null}
        <LogView lines={log.lines} />
      </section>
    </section>
  );
}
