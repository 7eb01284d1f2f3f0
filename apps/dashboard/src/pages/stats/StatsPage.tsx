import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { getTeamStats, type StatsNow } from "../../api/stats.ts";
import { ErrorView, Loading, PageHeader } from "../../ui/index.ts";
import { LineChart } from "./LineChart.tsx";
import { pollIntervalMs, RANGE_LABELS, STATS_RANGES, type StatsRange } from "./range.ts";
import { chartColumns, formatMemoryMb } from "./series.ts";
import "../pages.css";

function StatCard({
  label,
  value,
  peak,
  testId,
}: {
  label: string;
  value: string;
  peak: string;
  testId: string;
}) {
  return (
    <div className="stat-card" data-testid={testId}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={`${testId}-value`}>
        {value}
      </div>
      <div className="stat-peak muted small">Peak {peak}</div>
    </div>
  );
}

/** One card of the page: which figure of {@link StatsNow} it shows (now and at its peak) and how. */
interface StatCardSpec {
  testId: string;
  label: string;
  field: keyof StatsNow;
  format: (n: number) => string;
}

const STAT_CARDS: readonly StatCardSpec[] = [
  { testId: "stat-running", label: "Running capsules", field: "running", format: String },
  { testId: "stat-paused", label: "Paused capsules", field: "paused", format: String },
  { testId: "stat-vcpus", label: "vCPUs in use", field: "vcpus_running", format: String },
  { testId: "stat-memory", label: "Memory in use", field: "memory_mb_running", format: formatMemoryMb },
];

/** The range picker: a group of toggle buttons, one pressed; it changes the URL, not local state. */
function RangePicker({ range, onChange }: { range: StatsRange; onChange: (r: StatsRange) => void }) {
  return (
    <fieldset className="segmented" aria-label="Time range">
      {STATS_RANGES.map((r) => (
        <button
          key={r}
          type="button"
          className={r === range ? "active" : undefined}
          aria-pressed={r === range}
          data-testid={`stats-range-${r}`}
          title={RANGE_LABELS[r]}
          onClick={() => onChange(r)}
        >
          {r}
        </button>
      ))}
    </fieldset>
  );
}

/**
 * `/stats`: the team's sandboxes now and over a range. It polls silently — the previous range's
 * data stays on screen while a new range loads — so the spinner shows only on the first visit.
 */
export function StatsPage({
  range,
  onRangeChange,
}: {
  range: StatsRange;
  onRangeChange: (r: StatsRange) => void;
}) {
  const stats = useQuery({
    queryKey: ["team-stats", range],
    queryFn: ({ signal }) => getTeamStats(range, signal),
    refetchInterval: pollIntervalMs(range),
    placeholderData: keepPreviousData,
  });

  let body: React.ReactNode;
  if (stats.isPending) body = <Loading label="Loading stats" />;
  else if (stats.isError && !stats.data)
    body = <ErrorView error={stats.error} onRetry={() => void stats.refetch()} />;
  else {
    const { current, peak, series } = stats.data;
    const cols = chartColumns(series, stats.data.range);
    body = (
      <>
        {stats.isError ? (
          <p className="form-error" role="alert">
            Could not refresh: showing the last figures.
          </p>
        ) : null}
        <div className="stat-cards">
          {STAT_CARDS.map((c) => (
            <StatCard
              key={c.testId}
              testId={c.testId}
              label={c.label}
              value={c.format(current[c.field])}
              peak={c.format(peak[c.field])}
            />
          ))}
        </div>
        <div className="chart-grid" aria-busy={stats.isFetching && stats.isPlaceholderData}>
          <section className="panel">
            <h2>Capsules</h2>
            <LineChart
              testId="chart-capsules"
              ariaLabel={`Running and paused capsules over ${RANGE_LABELS[range]}`}
              labels={cols.labels}
              series={[
                { label: "Running", values: cols.running, color: "#16a34a" },
                { label: "Paused", values: cols.paused, color: "#ca8a04" },
              ]}
            />
          </section>
          <section className="panel">
            <h2>Resources</h2>
            <LineChart
              testId="chart-resources"
              ariaLabel={`vCPUs and memory of running capsules over ${RANGE_LABELS[range]}`}
              labels={cols.labels}
              leftTitle="vCPUs"
              rightTitle="GiB"
              series={[
                { label: "vCPUs", values: cols.vcpus, color: "#2563eb" },
                { label: "Memory (GiB)", values: cols.memoryGiB, color: "#9333ea", right: true },
              ]}
            />
          </section>
        </div>
        {series.length === 0 ? (
          <p className="muted small">
            No samples in this range yet: the control plane records one every 10 seconds.
          </p>
        ) : null}
      </>
    );
  }

  return (
    <section data-testid="page-stats">
      <PageHeader title="Stats">
        <RangePicker range={range} onChange={onRangeChange} />
      </PageHeader>
      {body}
    </section>
  );
}
