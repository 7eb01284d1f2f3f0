import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { RUN_FILES } from "../vmm/qemu.ts";

/**
 * Ends a VMM process a previous agent run left behind in `runDir`, identified
 * by the pid file and confirmed by its command line (`-name wrenn-<id>`), so a
 * recycled pid of an unrelated process is never killed. Returns the pid killed.
 */
export async function killOrphanVmm(runDir: string, id: string): Promise<number | undefined> {
  const pidFile = join(runDir, RUN_FILES.pid);
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, "utf8")).trim());
  } catch {
    return undefined;
  }
  let killed: number | undefined;
  if (Number.isInteger(pid) && pid > 1) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").includes(`wrenn-${id}`)) {
      try {
        process.kill(pid, "SIGKILL");
        killed = pid;
        await waitGone(pid, 5_000);
      } catch {
        // Already gone.
      }
    }
  }
  await rm(pidFile, { force: true });
  return killed;
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // Gone, or a zombie waiting for its (dead) parent's reaper.
    if (!stat || / Z /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Start-up cleanup of template captures a crashed run left behind: ends their
 * helper VMMs and removes generations that never got their `meta.json`.
 * Returns the pids killed.
 */
export async function removeIncompleteCaptures(dataRoot: string): Promise<number[]> {
  const killed: number[] = [];
  const teamsDir = join(dataRoot, "templates", "teams");
  const names = (dir: string) => readdir(dir).catch(() => [] as string[]);
  for (const team of await names(teamsDir)) {
    for (const tpl of await names(join(teamsDir, team))) {
      for (const gen of await names(join(teamsDir, team, tpl))) {
        const dir = join(teamsDir, team, tpl, gen);
        const pid = await killOrphanVmm(dir, `tpl-${tpl}`);
        if (pid) killed.push(pid);
        const complete = await stat(join(dir, "meta.json")).then(
          () => true,
          () => false,
        );
        if (gen.startsWith("gen-") && !complete) await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return killed;
}
