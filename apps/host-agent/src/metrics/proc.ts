import { execFileSync } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { errors } from "@wrenn/common";

let ticksPerSecond: number | undefined;

/** The kernel's USER_HZ (`getconf CLK_TCK`), the unit of /proc/<pid>/stat CPU times. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const reported = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    ticksPerSecond = Number.isInteger(reported) && reported > 0 ? reported : 100;
  }
  return ticksPerSecond;
}

/** Parses /proc/<pid>/stat content into utime + stime, in clock ticks. */
export function parseCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw errors.internal("malformed /proc/<pid>/stat");
  return utime + stime;
}

/** Parses /proc/<pid>/status content into VmRSS in bytes (0 for a process without memory). */
export function parseRssBytes(status: string): number {
  const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib === undefined ? 0 : Number(kib) * 1024;
}

/** CPU time (utime + stime) a process has used so far, in clock ticks. */
export async function readCpuTicks(pid: number, procRoot = "/proc"): Promise<number> {
  return parseCpuTicks(await readFile(`${procRoot}/${pid}/stat`, "utf8"));
}

/** Resident set size of a process, bytes. */
export async function readRssBytes(pid: number, procRoot = "/proc"): Promise<number> {
  return parseRssBytes(await readFile(`${procRoot}/${pid}/status`, "utf8"));
}

/** Space a file really occupies on disk (allocated 512-byte blocks), not its apparent size. */
export async function diskUsageBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}
