import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import {
  CategoryScale,
  Chart,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "react";
import { getMetrics, type MetricsPoint, type MetricsRange, metricsRanges } from "../../api/sandboxes.ts";
import { formatBytes, QueryView } from "../../ui/index.ts";

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Filler);

/** Refresh period per range: short ranges change every few seconds, long ones barely. */
export function metricsPollMs(range: MetricsRange): number {
  return range === "5m" || range === "10m" ? 5_000 : range === "1h" || range === "2h" ? 30_000 : 120_000;
}

/** Axis label of a sample time: seconds matter only on short ranges. */
export function timeLabel(iso: string, range: MetricsRange): string {
  const d = new Date(iso);
  const short = range === "5m" || range === "10m";
  return d.toLocaleTimeString([], {
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    ...(short ? { second: "2-digit" } : {}),
  });
}

function MetricChart({
  label,
  points,
  range,
  value,
  format,
  color,
  testId,
}: {
  label: string;
  points: MetricsPoint[];
  range: MetricsRange;
  value: (p: MetricsPoint) => number;
  format: (n: number) => string;
  color: string;
  testId: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<"line", number[], string> | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, {
      type: "line",
      data: {
        labels: [],
        datasets: [
          {
            label,
            data: [],
            borderColor: color,
            backgroundColor: `${color}33`,
            fill: true,
            pointRadius: 0,
            tension: 0.25,
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 5, autoSkip: true, maxRotation: 0 } },
          y: { beginAtZero: true, ticks: { callback: (v) => format(Number(v)) } },
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (c) => `${label}: ${format(c.parsed.y ?? 0)}` } },
        },
      },
    });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [label, color, format]);
  // Update in place: a redraw without re-creating the chart keeps polling flicker-free.
  useEffect(() => {
    const c = chart.current;
    const ds = c?.data.datasets[0];
    if (!c || !ds) return;
    c.data.labels = points.map((p) => timeLabel(p.timestamp, range));
    ds.data = points.map(value);
    c.update("none");
  }, [points, range, value]);
  const last = points.at(-1);
  return (
    <figure className="panel" style={{ margin: 0 }}>
      <figcaption className="row" style={{ justifyContent: "space-between" }}>
        <strong>{label}</strong>
        <span className="muted">{last ? format(value(last)) : "—"}</span>
      </figcaption>
      <div className="chart-box">
        <canvas
          ref={canvas}
          data-testid={testId}
          data-points={points.length}
          role="img"
          aria-label={`${label} over the last ${range}`}
        />
      </div>
    </figure>
  );
}

/** One chart of the tab: what it reads from a sample, how it prints a value, and its colour. */
interface ChartSpec {
  label: string;
  value: (p: MetricsPoint) => number;
  format: (n: number) => string;
  color: string;
  testId: string;
}

// Module-level so the functions keep their identity: MetricChart rebuilds its chart when they change.
const CHARTS: readonly ChartSpec[] = [
  {
    label: "CPU",
    value: (p) => p.cpu_percent,
    format: (n) => `${Math.round(n)}%`,
    color: "#3d5afe",
    testId: "chart-cpu",
  },
  {
    label: "Memory",
    value: (p) => p.memory_rss_bytes,
    format: formatBytes,
    color: "#1b7f3b",
    testId: "chart-memory",
  },
  { label: "Disk", value: (p) => p.disk_bytes, format: formatBytes, color: "#9a6700", testId: "chart-disk" },
];

/** CPU, memory and disk charts of one capsule over the range in the URL. */
export function MetricsTab({ sandboxId, range }: { sandboxId: string; range: MetricsRange }) {
  const navigate = useNavigate({ from: "/capsules/$id" });
  const metrics = useQuery({
    queryKey: ["sandboxes", "metrics", sandboxId, range],
    queryFn: () => getMetrics(sandboxId, range),
    refetchInterval: metricsPollMs(range),
    // A range switch keeps the charts on screen until the new range's samples arrive (no spinner flash).
    placeholderData: keepPreviousData,
  });
  return (
    <section aria-label="Metrics" data-testid="capsule-metrics">
      <fieldset className="segmented" style={{ marginBottom: 12 }}>
        <legend className="sr-only">Time range</legend>
        {metricsRanges.map((r) => (
          <button
            key={r}
            type="button"
            aria-pressed={r === range}
            data-testid={`metrics-range-${r}`}
            onClick={() => void navigate({ search: (s) => ({ ...s, range: r }) })}
          >
            {r}
          </button>
        ))}
      </fieldset>
      <QueryView query={metrics} loadingLabel="Loading metrics">
        {(data) => (
          <>
            {data.points.length === 0 ? <p className="muted">No samples in this range yet.</p> : null}
            <div className="grid-2">
              {CHARTS.map((c) => (
                <MetricChart key={c.testId} {...c} points={data.points} range={range} />
              ))}
            </div>
          </>
        )}
      </QueryView>
    </section>
  );
}
