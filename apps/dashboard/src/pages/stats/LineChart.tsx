import {
  CategoryScale,
  Chart,
  type ChartDataset,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "react";

// Only the pieces a line chart uses, so the bundle carries no other chart types.
Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  CategoryScale,
  Filler,
  Tooltip,
  Legend,
);

/** One line of a {@link LineChart}. */
export interface Series {
  label: string;
  values: number[];
  color: string;
  /** Plot against the right-hand axis (a second unit, e.g. MiB next to vCPUs). */
  right?: boolean;
}

/**
 * A Chart.js line chart that is created once and updated in place when its data changes, with
 * animation off for updates: a poll redraws the lines without the canvas flashing or resetting
 * the tooltip. The canvas is labelled for screen readers, which get the latest values as text.
 */
export function LineChart({
  labels,
  series,
  ariaLabel,
  testId,
  leftTitle,
  rightTitle,
}: {
  labels: string[];
  series: Series[];
  ariaLabel: string;
  testId: string;
  leftTitle?: string;
  rightTitle?: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<"line", number[], string> | null>(null);

  const datasets: ChartDataset<"line", number[]>[] = series.map((s) => ({
    label: s.label,
    data: s.values,
    borderColor: s.color,
    backgroundColor: `${s.color}22`,
    fill: !s.right,
    tension: 0.25,
    pointRadius: 0,
    borderWidth: 2,
    yAxisID: s.right ? "right" : "left",
  }));
  const hasRight = series.some((s) => s.right);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is built once; the effect below feeds it
  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart<"line", number[], string>(canvas.current, {
      type: "line",
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: {
          x: { ticks: { maxTicksLimit: 8, autoSkip: true, autoSkipPadding: 16, maxRotation: 0 } },
          left: {
            position: "left",
            beginAtZero: true,
            ticks: { precision: 0 },
            title: { display: Boolean(leftTitle), text: leftTitle ?? "" },
          },
          right: {
            position: "right",
            display: hasRight,
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: Boolean(rightTitle), text: rightTitle ?? "" },
          },
        },
      },
    });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = labels;
    // Replace values in place so Chart.js keeps each dataset's hidden/visible toggle.
    datasets.forEach((d, i) => {
      const cur = c.data.datasets[i];
      if (cur) cur.data = d.data;
      else c.data.datasets.push(d);
    });
    c.update("none");
  });

  const latest = series.map((s) => `${s.label}: ${s.values.at(-1) ?? 0}`).join(", ");
  return (
    <div className="chart-box" data-testid={testId} data-points={labels.length}>
      <canvas ref={canvas} role="img" aria-label={`${ariaLabel}. Latest: ${latest}`} />
    </div>
  );
}
