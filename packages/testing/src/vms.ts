import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename } from "node:path";
import { type CleanupReport, cleanupStaleNetworks } from "@wrenn/host-agent";

// What a test leaves behind when its host agent dies or its teardown races: QEMU processes
// survive the agent on purpose (a restarted agent takes them over), and so do their network
// namespaces, veth pairs and iptables rules. These helpers find and remove them.

/** A running QEMU process and the run directory its command line names. */
export interface QemuProcess {
  pid: number;
  /** Its parent: 1 (or another reaper) once the agent that started it is gone. */
  ppid: number;
  /** Start time (clock ticks since boot): with the pid, it names one process. */
  startTime: string;
  /** The VM's run directory (where its `console.log` is), from `-chardev file,…,path=<dir>/console.log`. */
  runDir: string;
  /** The command line, arguments joined by spaces (for reports). */
  cmdline: string;
}

/**
 * Every live QEMU process on the machine that was started by a host agent (its command line
 * names a console file in a run directory). Synchronous, so a process `exit` handler can use
 * it. A process still in `ip netns exec` (about to exec QEMU) counts too.
 */
export function qemuProcesses(): QemuProcess[] {
  const found: QemuProcess[] = [];
  for (const entry of safeReaddir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const args = safeRead(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
    if (!args.some((a) => basename(a).startsWith("qemu-system"))) continue;
    // Fields after the command name (which may hold spaces) follow the last ')'.
    const stat = safeRead(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!stat || fields[0] === "Z") continue;
    const chardev = args.find((a) => a.startsWith("file,id=con,"));
    const runDir = /(?:^|,)path=(.+)\/console\.log(?:,|$)/.exec(chardev ?? "")?.[1];
    if (runDir) {
      found.push({
        pid,
        ppid: Number(fields[1]),
        startTime: fields[19] ?? "",
        runDir,
        cmdline: args.join(" "),
      });
    }
  }
  return found;
}

/** The QEMU processes whose run directory lies under `dir` (a test agent's data directory). */
export function qemuProcessesUnder(dir: string): QemuProcess[] {
  const prefix = `${dir.replace(/\/+$/, "")}/`;
  return qemuProcesses().filter((p) => p.runDir.startsWith(prefix));
}

/** SIGKILLs `procs` (synchronously; one already gone is skipped) and returns those signalled. */
export function killQemu(procs: QemuProcess[]): QemuProcess[] {
  return procs.filter((p) => {
    try {
      process.kill(p.pid, "SIGKILL");
      return true;
    } catch {
      return false;
    }
  });
}

/** Waits (up to `ms`) until none of `procs` is alive, so their files and namespaces can go. */
export async function waitForExit(procs: QemuProcess[], ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  const alive = () => procs.filter((p) => existsLive(p.pid));
  while (alive().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * The directories test VMs run under: the temp directory (or `WRENN_TEST_TMP`). A `wrenn up`
 * keeps its VMs under `/var/lib/wrenn` (or its `--data-dir`), never here.
 */
export function testTempRoots(): string[] {
  return [...new Set([process.env.WRENN_TEST_TMP, tmpdir()].filter((d): d is string => !!d))];
}

/**
 * Network slots test agents take their blocks from. Other tests use fixed ranges of their own
 * (950-999, 3600-3699, 4000-4099). A `wrenn up` agent owns every slot (its start-up cleanup
 * removes whatever its own VMs do not hold); test agents and the vm project's teardown touch
 * only this region, so they never remove a `wrenn up` sandbox's network.
 */
export const TEST_SLOT_REGION = { first: 2048, last: 3071 } as const;
const SLOT_BLOCK = 32;
const BLOCKS = (TEST_SLOT_REGION.last - TEST_SLOT_REGION.first + 1) / SLOT_BLOCK;
// A random first block: a deployment whose teardown failed in an earlier run does not
// collide with the next run's first deployment.
let nextBlock = Math.floor(Math.random() * BLOCKS);

/** A slot range (`WRENN_NET_SLOTS`) no other deployment of this process holds. */
export function reserveTestSlots(): { first: number; last: number } {
  const block = nextBlock++ % BLOCKS;
  const first = TEST_SLOT_REGION.first + block * SLOT_BLOCK;
  return { first, last: first + SLOT_BLOCK - 1 };
}

/** `WRENN_NET_SLOTS` for `range`. */
export function slotsSetting(range: { first: number; last: number }): string {
  return `${range.first}-${range.last}`;
}

/** Removes the namespaces, veth links and tagged iptables rules of slots in `range` (host-agent cleanup). */
export function removeNetworks(range: { first: number; last: number }): Promise<CleanupReport> {
  return cleanupStaleNetworks({ match: (idx) => idx >= range.first && idx <= range.last });
}

/** True when `report` removed anything. */
export function removedAnything(report: CleanupReport): boolean {
  return report.namespaces.length > 0 || report.links.length > 0 || report.rules > 0;
}

/** What {@link VmGuard.release} had to remove: the agent had left it behind. */
export interface Leftovers {
  killed: QemuProcess[];
  networks: CleanupReport;
}

/** Makes sure a test agent's VMs and networks end with its test (see {@link guardVms}). */
export interface VmGuard {
  /** The agent's own slot range: pass {@link slotsSetting} of it as `WRENN_NET_SLOTS`. */
  slots: { first: number; last: number };
  /** An agent process to SIGKILL should the test process exit first. */
  track(child: ChildProcess): void;
  /**
   * Kills every QEMU under the data directory, waits for them to exit, then removes the
   * networks of {@link slots}. Call it after the agent stopped (or died); idempotent.
   */
  release(): Promise<Leftovers>;
}

/**
 * Guards a test host agent whose data directory is `dataDir`: reserves it a slot range and,
 * should the test process exit without {@link VmGuard.release} (a crash, a failed teardown),
 * SIGKILLs the tracked agent processes and every QEMU under `dataDir` on the way
 * out. Networks cannot be removed synchronously there; the vm project's global teardown
 * (vm-guard.ts) removes what is left in {@link TEST_SLOT_REGION}.
 */
export function guardVms(dataDir: string): VmGuard {
  const slots = reserveTestSlots();
  const children: ChildProcess[] = [];
  const onExit = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    killQemu(qemuProcessesUnder(dataDir));
  };
  process.on("exit", onExit);
  return {
    slots,
    track: (child) => children.push(child),
    async release() {
      process.off("exit", onExit);
      const killed = killQemu(qemuProcessesUnder(dataDir));
      await waitForExit(killed);
      return { killed, networks: await removeNetworks(slots) };
    },
  };
}

function existsLive(pid: number): boolean {
  const stat = safeRead(`/proc/${pid}/stat`);
  return stat !== "" && !/\) Z /.test(stat);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
