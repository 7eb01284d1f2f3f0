import { open, readFile, stat, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { errors, isProcessAlive } from "@wrenn/common";

/** Options for {@link acquireLock}. */
export interface LockOptions {
  /** How long to wait for a live holder before giving up (ms). */
  timeoutMs?: number;
  /** Called once when the lock is held by another live process and we start waiting. */
  onWait?: (holderPid: number) => void;
}

async function holderPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((JSON.parse(await readFile(file, "utf8")) as { pid?: unknown }).pid);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes an exclusive lock by creating `file` (O_EXCL) with our pid in it. A lock whose
 * holder process is gone (a crashed build) is taken over. Resolves to a release function.
 */
export async function acquireLock(file: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20 * 60_000);
  let announced = false;
  for (;;) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
      await handle.close();
      return async () => {
        if ((await holderPid(file)) === process.pid) await unlink(file).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = await holderPid(file);
    if (pid === undefined || !isProcessAlive(pid)) {
      // A lock file without a readable pid may be mid-write: remove it only once it is old.
      if (pid !== undefined || (await staleEmptyLock(file))) await unlink(file).catch(() => undefined);
    } else if (!announced) {
      announced = true;
      opts.onWait?.(pid);
    }
    if (Date.now() > deadline) {
      throw errors.unavailable(`another image build (pid ${pid ?? "unknown"}) holds ${file}`);
    }
    await sleep(250);
  }
}

async function staleEmptyLock(file: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs > 5_000;
  } catch {
    return false;
  }
}
