import { readFile, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import { isProcessAlive } from "@wrenn/common";

/** Thrown when a live PostgreSQL server still serves the data dir an embedded server should start on. */
export class PostgresAlreadyRunningError extends Error {
  override readonly name = "PostgresAlreadyRunningError";
}

/** What a `postmaster.pid` lock file says about its owner, as PostgreSQL sees it. */
export type PostmasterLockState =
  | { kind: "none" }
  | { kind: "stale"; pid: number; why: string }
  | { kind: "live"; pid: number };

/**
 * Reads `<dataDir>/postmaster.pid` and decides whether its owner is a live PostgreSQL server of
 * *this* data dir. PostgreSQL only asks "is that pid alive?", so after an unclean end (kill -9 of
 * its parent, a container restart) a pid reused by any other process — common in containers,
 * where pids restart low — keeps it from starting. Here the pid must also be a `postgres`
 * process whose working directory (PostgreSQL chdirs into its data dir) is this data dir.
 */
export async function inspectPostmasterLock(dataDir: string): Promise<PostmasterLockState> {
  let text: string;
  try {
    text = await readFile(join(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return { kind: "none" };
  }
  const pid = Number(text.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return { kind: "stale", pid: 0, why: "unreadable lock file" };
  if (!isProcessAlive(pid)) return { kind: "stale", pid, why: "its process is gone" };
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  // Unreadable /proc (another user's process under hidepid): cannot prove it stale, keep the lock.
  if (cmdline === undefined) return { kind: "live", pid };
  const program = cmdline.split("\0")[0] ?? "";
  if (!/(^|\/)postgres$/.test(program)) return { kind: "stale", pid, why: `pid ${pid} is not PostgreSQL` };
  const cwd = await realpath(`/proc/${pid}/cwd`).catch(() => undefined);
  if (cwd === undefined) return { kind: "live", pid };
  const own = await realpath(dataDir).catch(() => dataDir);
  if (cwd !== own) return { kind: "stale", pid, why: `pid ${pid} is PostgreSQL of another data dir` };
  return { kind: "live", pid };
}

/**
 * Makes `dataDir` startable after an unclean end: removes a stale `postmaster.pid`, and waits up
 * to `waitMs` for a live server of this data dir to go (the parent-death watcher of a killed
 * `wrenn up` is shutting it down, which takes a checkpoint). A server still running then belongs
 * to someone else: {@link PostgresAlreadyRunningError}, with nothing removed.
 */
export async function recoverPostmasterLock(
  dataDir: string,
  options: { waitMs?: number; onLog?: (line: string) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  for (;;) {
    const state = await inspectPostmasterLock(dataDir);
    if (state.kind === "none") return;
    if (state.kind === "stale") {
      options.onLog?.(`removing stale postmaster.pid (${state.why})`);
      await rm(join(dataDir, "postmaster.pid"), { force: true });
      return;
    }
    if (Date.now() >= deadline)
      throw new PostgresAlreadyRunningError(
        `PostgreSQL (pid ${state.pid}) is still running on ${dataDir}: is another 'wrenn up' using this data dir? Stop it or choose another --data-dir`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
