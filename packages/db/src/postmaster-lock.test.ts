import { spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  inspectPostmasterLock,
  PostgresAlreadyRunningError,
  recoverPostmasterLock,
} from "./postmaster-lock.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function dataDirWithLock(pid: number | undefined): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "wrenn-pglock-"));
  dirs.push(dir);
  if (pid !== undefined) await writeFile(join(dir, "postmaster.pid"), `${pid}\n${dir}\n1700000000\n5432\n`);
  return dir;
}

describe("postmaster.pid recovery", () => {
  it("sees no lock, a dead owner, and a live process that is not PostgreSQL as startable", async () => {
    expect(await inspectPostmasterLock(await dataDirWithLock(undefined))).toEqual({ kind: "none" });

    const gone = spawn("true");
    await new Promise((r) => gone.once("exit", r));
    const deadDir = await dataDirWithLock(gone.pid);
    expect(await inspectPostmasterLock(deadDir)).toMatchObject({ kind: "stale", pid: gone.pid });

    const reused = await dataDirWithLock(process.pid); // alive, but node, not postgres
    expect(await inspectPostmasterLock(reused)).toMatchObject({ kind: "stale", why: /is not PostgreSQL/ });
    const lines: string[] = [];
    await recoverPostmasterLock(reused, { onLog: (l) => lines.push(l) });
    await expect(stat(join(reused, "postmaster.pid"))).rejects.toThrow(/ENOENT/);
    expect(lines.join()).toMatch(/removing stale postmaster\.pid/);
  });

  it("refuses, removing nothing, while a PostgreSQL of this data dir keeps running", async () => {
    // A stand-in server: a process named `postgres` whose working directory is the data dir.
    const dir = await dataDirWithLock(undefined);
    const fake = spawn("bash", ["-c", "exec -a postgres sleep 30"], { cwd: dir, stdio: "ignore" });
    try {
      await new Promise((r) => fake.once("spawn", r));
      await writeFile(join(dir, "postmaster.pid"), `${fake.pid}\n${dir}\n`);
      const deadline = Date.now() + 5000; // exec replaces bash; wait until it has
      while ((await inspectPostmasterLock(dir)).kind !== "live" && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(await inspectPostmasterLock(dir)).toEqual({ kind: "live", pid: fake.pid });
      await expect(recoverPostmasterLock(dir, { waitMs: 300 })).rejects.toBeInstanceOf(
        PostgresAlreadyRunningError,
      );
      expect((await stat(join(dir, "postmaster.pid"))).isFile()).toBe(true);
    } finally {
      fake.kill("SIGKILL");
    }
  });
});
