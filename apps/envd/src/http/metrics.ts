import { readFile, statfs } from "node:fs/promises";
import { cpus } from "node:os";

/** Resource usage inside the guest, in E2B's `/metrics` shape. */
export interface GuestMetrics {
  ts: number;
  cpu_count: number;
  cpu_used_pct: number;
  mem_total: number;
  mem_used: number;
  disk_used: number;
  disk_total: number;
}

interface CpuSample {
  busy: number;
  total: number;
}

async function readCpuSample(): Promise<CpuSample> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Samples /proc/stat, /proc/meminfo and statfs("/"). CPU use is measured over
 * the interval since the previous call (or a short 100 ms window on the first).
 */
export class MetricsSampler {
  private last: CpuSample | undefined;

  async sample(): Promise<GuestMetrics> {
    let previous = this.last;
    if (!previous) {
      previous = await readCpuSample();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const current = await readCpuSample();
    this.last = current;
    const totalDelta = current.total - previous.total;
    const cpuUsed = totalDelta > 0 ? ((current.busy - previous.busy) / totalDelta) * 100 : 0;

    const meminfo = await readFile("/proc/meminfo", "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(meminfo)?.[1] ?? 0) * 1024;
    const memTotal = kb("MemTotal");
    const memUsed = memTotal - kb("MemAvailable");

    const disk = await statfs("/");
    const diskTotal = disk.blocks * disk.bsize;
    const diskUsed = (disk.blocks - disk.bfree) * disk.bsize;
    return {
      ts: Math.floor(Date.now() / 1000),
      cpu_count: cpus().length,
      cpu_used_pct: Math.round(cpuUsed * 100) / 100,
      mem_total: memTotal,
      mem_used: memUsed,
      disk_used: diskUsed,
      disk_total: diskTotal,
    };
  }
}
