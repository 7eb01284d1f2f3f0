import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock } from "./lock.ts";

describe("acquireLock", () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "wrenn-lock-"));
    file = join(dir, "build.lock");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("records the holder and removes the file on release", async () => {
    const release = await acquireLock(file);
    expect(JSON.parse(await readFile(file, "utf8")).pid).toBe(process.pid);
    await release();
    expect(existsSync(file)).toBe(false);
  });

  it("makes a second builder wait, then fail with unavailable while the holder lives", async () => {
    const release = await acquireLock(file);
    const waitedFor: number[] = [];
    await expect(
      acquireLock(file, { timeoutMs: 600, onWait: (pid) => waitedFor.push(pid) }),
    ).rejects.toMatchObject({ code: "unavailable" });
    expect(waitedFor).toEqual([process.pid]);
    await release();
  });

  it("takes over a lock left by a process that is gone", async () => {
    // A real, finished process gives a pid that is certainly not alive any more.
    const dead = spawnSync("true").pid;
    await writeFile(file, JSON.stringify({ pid: dead }));
    const release = await acquireLock(file, { timeoutMs: 2_000 });
    expect(JSON.parse(await readFile(file, "utf8")).pid).toBe(process.pid);
    await release();
  });

  it("lets the next waiter in as soon as the holder releases", async () => {
    const release = await acquireLock(file);
    const second = acquireLock(file, { timeoutMs: 5_000 });
    setTimeout(() => void release(), 300);
    const releaseSecond = await second;
    expect(JSON.parse(await readFile(file, "utf8")).pid).toBe(process.pid);
    await releaseSecond();
  });
});
