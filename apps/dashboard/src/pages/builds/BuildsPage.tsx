import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { useState } from "react";
import {
  BUILD_STATUSES,
  type Build,
  type BuildScope,
  type BuildStatus,
  listBuilds,
} from "../../api/builds.ts";
import {
  Badge,
  type BadgeTone,
  Button,
  type Column,
  formatDate,
  formatRelative,
  PageHeader,
  QueryTable,
} from "../../ui/index.ts";
import { duration, isFinished } from "./logic.ts";
import { NewBuildDialog } from "./NewBuildDialog.tsx";
import "../pages.css";

/** Badge colour of a build status. */
export const BUILD_TONE: Record<BuildStatus, BadgeTone> = {
  queued: "blue",
  building: "yellow",
  ready: "green",
  error: "red",
  cancelled: "grey",
};

function buildColumns(scope: BuildScope): Column<Build>[] {
  return [
    {
      header: "Template",
      cell: (b) =>
        scope === "team" ? (
          <Link to="/builds/$id" params={{ id: b.id }} data-testid={`build-link-${b.id}`}>
            <strong>{b.name}</strong>
          </Link>
        ) : (
          <Link to="/admin/builds/$id" params={{ id: b.id }} data-testid={`build-link-${b.id}`}>
            <strong>{b.name}</strong>
          </Link>
        ),
    },
    { header: "Status", cell: (b) => <Badge tone={BUILD_TONE[b.status]}>{b.status}</Badge> },
    {
      header: "Steps",
      align: "right",
      cell: (b) => `${b.current_step}/${b.total_steps}`,
    },
    { header: "Source", cell: (b) => `${b.source} · from ${b.base_template}`, secondary: true },
    {
      header: "Started",
      cell: (b) => <span title={formatDate(b.created_at)}>{formatRelative(b.created_at)}</span>,
      secondary: true,
    },
    { header: "Took", cell: (b) => duration(b.started_at, b.completed_at), secondary: true },
  ];
}

/**
 * `/builds` (the team's) and `/admin/builds` (every team's; new builds make platform templates):
 * template builds, live while any is running; a new build opens its page.
 */
export function BuildsPage({ scope = "team" }: { scope?: BuildScope }) {
  const [status, setStatus] = useState<BuildStatus | "">("");
  const [creating, setCreating] = useState(false);
  const builds = useQuery({
    queryKey: ["builds", scope, status],
    queryFn: ({ signal }) => listBuilds(scope, status || undefined, signal),
    placeholderData: keepPreviousData,
    // Poll while something moves; a list of finished builds does not change by itself.
    refetchInterval: (q) => (q.state.data?.some((b) => !isFinished(b.status)) ? 3_000 : 30_000),
  });
  return (
    <section data-testid={scope === "team" ? "page-builds" : "page-admin-builds"}>
      <PageHeader title={scope === "team" ? "Builds" : "Platform builds"}>
        <select
          aria-label="Status"
          value={status}
          onChange={(e) => setStatus(e.target.value as BuildStatus | "")}
        >
          <option value="">Every status</option>
          {BUILD_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <Button variant="primary" data-testid="new-build" onClick={() => setCreating(true)}>
          New build
        </Button>
      </PageHeader>
      <p className="muted">
        A build runs a recipe or Dockerfile in a fresh capsule and saves the result as a template; unchanged
        steps come from the cache.
      </p>
      <QueryTable
        query={builds}
        loadingLabel="Loading builds"
        keepDataOnError
        caption="Builds"
        testId="builds-table"
        columns={buildColumns(scope)}
        rowKey={(b) => b.id}
        rowTestId={(b) => `build-row-${b.name}`}
        empty="No builds yet."
      />
      {creating ? <NewBuildDialog scope={scope} onClose={() => setCreating(false)} /> : null}
    </section>
  );
}

/** `/admin/builds`: every team's builds; new ones make platform templates. */
export function AdminBuildsPage() {
  return <BuildsPage scope="platform" />;
}
