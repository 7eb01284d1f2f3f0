import { type ChildProcess, spawn } from "node:child_process";

/**
 * Ends a process's children when the process dies in a way it cannot handle itself (SIGKILL,
 * an OOM kill, a crash in native code). Linux would do this with prctl(PR_SET_PDEATHSIG), which
 * Node cannot call; PostgreSQL and redis-server cannot watch a parent pid themselves.
 *
 * So a tiny watcher process holds the read end of a pipe whose only writer is this process.
 * The kernel closes that pipe whenever this process ends, however it ends, so the watcher's
 * end-of-file is an exact parent-death signal — no polling of pids that may be reused, no
 * reliance on exit hooks that SIGKILL skips. On EOF it sends each watched child its own
 * shutdown signal (the child alone: the host agent pauses the VMs it started before it exits),
 * SIGKILLs the child's whole process group when it outlives its grace period, and exits. An ordered shutdown forgets each child it stopped and then releases the watcher,
 * so a pid that is reused later is never signalled.
 */
export interface OrphanReaper {
  /**
   * Have `pid` (and its process group) sent `signal` if this process dies; SIGKILL follows when
   * it is still alive after `graceMs` (default 20 s: PostgreSQL's checkpoint, Redis's save).
   */
  watch(pid: number, signal?: NodeJS.Signals, graceMs?: number): void;
  /** `pid` was stopped in order: the watcher no longer signals it. */
  forget(pid: number): void;
  /** Ordered exit: the watcher exits without signalling anything. */
  release(): void;
}

/** How long the watcher waits for a signalled child before SIGKILL, unless told otherwise. */
const GRACE_MS = 20_000;

// The watcher's program, run by this same Node binary with `-e` (works from sources and bundles
// alike). Commands arrive one per line: `watch <pid> <signal> <graceMs>`, `forget <pid>`, `release`.
const WATCHER = `
const targets = new Map();
let pending = "";
for (const s of ["SIGINT", "SIGHUP", "SIGPIPE"]) process.on(s, () => {});
const alive = (pid) => {
  try { process.kill(pid, 0); } catch { return false; }
  try {
    const stat = require("node:fs").readFileSync("/proc/" + pid + "/stat", "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch { return true; }
};
const send = (pid, signal) => {
  try { process.kill(pid, signal); } catch {}
};
const killAll = (pid) => {
  try { process.kill(-pid, "SIGKILL"); } catch {}
  send(pid, "SIGKILL");
};
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\\n")) >= 0) {
    const [verb, pid, signal, grace] = pending.slice(0, nl).split(" ");
    pending = pending.slice(nl + 1);
    if (verb === "watch") targets.set(Number(pid), { signal: signal || "SIGTERM", grace: Number(grace) || ${GRACE_MS} });
    else if (verb === "forget") targets.delete(Number(pid));
    else if (verb === "release") process.exit(0);
  }
});
process.stdin.on("end", async () => {
  const start = Date.now();
  for (const [pid, t] of targets) send(pid, t.signal);
  const overdue = () => [...targets].filter(([pid, t]) => alive(pid) && Date.now() - start >= t.grace);
  while ([...targets.keys()].some(alive)) {
    for (const [pid] of overdue()) killAll(pid);
    await new Promise((r) => setTimeout(r, 100));
  }
  process.exit(0);
});
`;

/**
 * Starts the watcher lazily on the first {@link OrphanReaper.watch}, so a process with no
 * children to guard spawns nothing. The watcher runs in its own process group (a terminal's
 * Ctrl-C reaches only the parent, which stops its children in order) and never keeps the
 * parent's event loop alive.
 */
export function createOrphanReaper(): OrphanReaper {
  let watcher: ChildProcess | undefined;
  const send = (line: string) => {
    // A watcher that could not start or died leaves only the exit hook as a fallback; never throw.
    if (watcher?.stdin?.writable) watcher.stdin.write(`${line}\n`);
  };
  return {
    watch(pid, signal = "SIGTERM", graceMs = GRACE_MS) {
      if (!watcher) {
        watcher = spawn(process.execPath, ["-e", WATCHER], {
          detached: true,
          stdio: ["pipe", "ignore", "ignore"],
        });
        watcher.on("error", () => undefined);
        watcher.stdin?.on("error", () => undefined);
        watcher.unref();
        (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      }
      send(`watch ${pid} ${signal} ${graceMs}`);
    },
    forget(pid) {
      send(`forget ${pid}`);
    },
    release() {
      send("release");
    },
  };
}
