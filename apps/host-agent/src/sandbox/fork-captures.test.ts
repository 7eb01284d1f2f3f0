import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { afterEach, describe, expect, it } from "vitest";
import { DataLayout } from "../storage/layout.ts";
import {
  collectForkCaptures,
  FORK_FILES,
  forkCaptureDir,
  forkMemoryPath,
  forkRamDir,
  pendingCaptures,
  sweepForkRamDirs,
} from "./fork-captures.ts";
import { type SandboxManagerOptions, SandboxTable } from "./table.ts";
import type { SandboxRecord } from "./types.ts";

let root: string | undefined;
/** A directory on /dev/shm (a tmpfs on Linux) standing in for the fork RAM root. */
let shm: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  if (shm) await rm(shm, { recursive: true, force: true });
  root = shm = undefined;
});

/** A table over a temporary data directory; collection reads only the layout and the logger. */
async function table(): Promise<SandboxTable> {
  root = await mkdtemp(join(tmpdir(), "wrenn-fork-captures-"));
  return new SandboxTable({
    layout: new DataLayout(root),
    logger: createLogger("test", "silent"),
  } as unknown as SandboxManagerOptions);
}

function entry(t: SandboxTable, id: string, forkCaptures: string[]): void {
  t.entries.set(id, { record: { id, forkCaptures } as unknown as SandboxRecord });
}

describe("fork captures", () => {
  it("deletes the captures no sandbox names and none is making, keeps the others", async () => {
    const t = await table();
    for (const id of ["c1", "c2", "c3", "c4"])
      await mkdir(forkCaptureDir(t.options.layout, id), { recursive: true });
    // A fork of a fork names both captures; c3 is being made; c4 is nobody's.
    entry(t, "fork-a", ["c1", "c2"]);
    entry(t, "plain", []);
    pendingCaptures(t).add("c3");
    expect(await collectForkCaptures(t)).toEqual(["c4"]);
    expect((await readdir(join(t.options.layout.root, "forks"))).sort()).toEqual(["c1", "c2", "c3"]);
    t.entries.delete("fork-a");
    pendingCaptures(t).delete("c3");
    expect((await collectForkCaptures(t)).sort()).toEqual(["c1", "c2", "c3"]);
  });

  it("copes with no forks directory and refuses capture ids that are not safe names", async () => {
    const t = await table();
    expect(await collectForkCaptures(t)).toEqual([]);
    expect(() => forkCaptureDir(t.options.layout, "../x")).toThrow(/capture_id/);
  });

  it("puts a converted RAM file on the tmpfs when it has room, else in the capture's directory", async () => {
    const t = await table();
    const layout = t.options.layout;
    shm = await mkdtemp("/dev/shm/wrenn-test-");
    const onTmpfs = await forkMemoryPath(layout, "c1", 512 * 1024 ** 2, shm);
    expect(onTmpfs).toBe(join(forkRamDir(layout, shm), "c1.ram"));
    expect(await readFile(join(forkRamDir(layout, shm), "owner"), "utf8")).toBe(layout.root);
    // More than the tmpfs holds, or no tmpfs at all: the data disk.
    const onDisk = join(forkCaptureDir(layout, "c1"), FORK_FILES.memory);
    expect(await forkMemoryPath(layout, "c1", 2 ** 50, shm)).toBe(onDisk);
    expect(await forkMemoryPath(layout, "c1", 512 * 1024 ** 2, join(root as string, "no-such-dir"))).toBe(
      onDisk,
    );
    expect(forkRamDir(new DataLayout("/other/data"), shm)).not.toBe(forkRamDir(layout, shm));
    await expect(forkMemoryPath(layout, "../x", 1, shm)).rejects.toThrow(/capture_id/);
  });

  it("deletes a capture's RAM file on the tmpfs with the capture, and the directories of deleted data dirs", async () => {
    const t = await table();
    const layout = t.options.layout;
    shm = await mkdtemp("/dev/shm/wrenn-test-");
    for (const id of ["c1", "c2"]) {
      await mkdir(forkCaptureDir(layout, id), { recursive: true });
      await writeFile(await forkMemoryPath(layout, id, 1024, shm), "ram");
    }
    entry(t, "fork-a", ["c1"]);
    // Another agent's directory whose data dir is gone, and one whose data dir still exists.
    const goneOwner = new DataLayout(join(root as string, "deleted-data-dir"));
    await writeFile(await forkMemoryPath(goneOwner, "c9", 1024, shm), "ram");
    const liveOwner = new DataLayout(root as string);
    expect(forkRamDir(liveOwner, shm)).toBe(forkRamDir(layout, shm));

    expect(await collectForkCaptures(t, shm)).toEqual(["c2"]);
    expect((await readdir(forkRamDir(layout, shm))).sort()).toEqual(["c1.ram", "owner"]);
    expect(await readdir(shm)).toEqual([forkRamDir(layout, shm).split("/").pop()]);
    expect(await sweepForkRamDirs(shm)).toBe(0);
  });
});
