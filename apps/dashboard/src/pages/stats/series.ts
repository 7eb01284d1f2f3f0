import type { StatsPoint } from "../../api/stats.ts";
import { formatSampleTime, type StatsRange } from "./range.ts";

/** The columns the two stats charts draw, one entry per sample. */
export interface ChartColumns {
  labels: string[];
  running: number[];
  paused: number[];
  vcpus: number[];
  /** In GiB, one decimal: MiB counts in the thousands make an unreadable axis. */
  memoryGiB: number[];
}

/** Splits the API's series into chart columns, oldest first whatever order the API used. */
export function chartColumns(series: StatsPoint[], range: StatsRange, timeZone?: string): ChartColumns {
  const sorted = [...series].sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  return {
    labels: sorted.map((p) => formatSampleTime(p.t, range, timeZone)),
    running: sorted.map((p) => p.running),
    paused: sorted.map((p) => p.paused),
    vcpus: sorted.map((p) => p.vcpus),
    memoryGiB: sorted.map((p) => Math.round((p.memory_mb / 1024) * 10) / 10),
  };
}

/** "512 MiB" below a GiB, "1.5 GiB" above: the memory card's value. */
export function formatMemoryMb(mb: number): string {
  if (mb < 1024) return `${mb} MiB`;
  const gib = mb / 1024;
  return `${gib < 10 ? gib.toFixed(1).replace(/\.0$/, "") : Math.round(gib)} GiB`;
}
