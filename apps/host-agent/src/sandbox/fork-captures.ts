import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { assertSafeName } from "@wrenn/common";
import { MIB } from "../storage/disk.ts";
import type { DataLayout } from "../storage/layout.ts";
import type { SandboxTable } from "./table.ts";

const run = promisify(execFile);

/**
 * Files of one fork capture (`forks/<captureId>/`): the source's disk image as it was at the
 * fork (read-only backing of the source's and every fork's overlay), the source's RAM as a
 * file the forks map private copy-on-write, and its device state.
 */
export const FORK_FILES = {
  disk: "disk.qcow2",
  memory: "memory.ram",
  state: "device.state",
  /** RAM + device state as the source wrote it; turned into `memory` + `state`, then deleted. */
  fullState: "full.state",
  /** The full state with only the guest pages the source changed against its RAM file (first fork). */
  changedState: "changed.state",
  /** Throw-away overlay of the VM that does that conversion (it never runs the guest). */
  convertDisk: "convert.qcow2",
} as const;

/** Directory of all fork captures. */
export function forksDir(layout: DataLayout): string {
  return join(layout.root, "forks");
}

/** Directory of one fork capture. */
export function forkCaptureDir(layout: DataLayout, captureId: string): string {
  return join(forksDir(layout), assertSafeName(captureId, "capture_id"));
}

/**
 * Where converted fork RAM files go when there is room: a tmpfs. Loading a 225 MB state into a
 * new file mapped shared took 0.8-1.4 s on ext4 (a block reservation per first write to each
 * page) against ~0.2 s on tmpfs, the long pole of a fork of several (bench/README, fork section).
 * Nothing is lost with the tmpfs: only running forks map the file (a paused or restarted fork
 * restores from its own full state), and a host reboot ends those anyway.
 */
export const FORK_RAM_ROOT = "/dev/shm";
/** `statfs` type of a tmpfs. */
const TMPFS_MAGIC = 0x01021994;
/** Room left on the tmpfs beyond the file itself: a full tmpfs would kill the converting QEMU (SIGBUS). */
const FORK_RAM_HEADROOM_BYTES = 256 * MIB;

/** The file in a fork RAM directory that names its agent's data directory. */
const FORK_RAM_OWNER = "owner";

/** This agent's directory of fork RAM files on the tmpfs: per data directory, so agents on one host keep apart. */
export function forkRamDir(layout: DataLayout, root = FORK_RAM_ROOT): string {
  const tag = createHash("sha256").update(layout.root).digest("hex").slice(0, 16);
  return join(root, `wrenn-forks-${tag}`);
}

/**
 * The path of capture `captureId`'s converted RAM file: on the tmpfs when it holds twice the
 * guest's RAM plus headroom, else in the capture's directory on the data disk.
 */
export async function forkMemoryPath(
  layout: DataLayout,
  captureId: string,
  ramBytes: number,
  root = FORK_RAM_ROOT,
): Promise<string> {
  const name = assertSafeName(captureId, "capture_id");
  try {
    const fs = await statfs(root);
    if (fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize >= 2 * ramBytes + FORK_RAM_HEADROOM_BYTES) {
      const dir = forkRamDir(layout, root);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // Names the data directory, so the directory can go once that is gone (sweepForkRamDirs).
      await writeFile(join(dir, FORK_RAM_OWNER), layout.root);
      return join(dir, `${name}.ram`);
    }
  } catch {
    // No tmpfs at that path: the data disk it is.
  }
  return join(forkCaptureDir(layout, name), FORK_FILES.memory);
}

/**
 * A qcow2 overlay on `backing` without opening it (`-u`): the backing may be held by a running
 * VM, whose lock a plain `qemu-img create` would trip over.
 */
export async function createOverlayUnsafe(backing: string, path: string, sizeBytes: number): Promise<void> {
  await run("qemu-img", [
    "create",
    "-q",
    "-f",
    "qcow2",
    "-u",
    "-b",
    backing,
    "-F",
    "qcow2",
    path,
    String(sizeBytes),
  ]);
}

const pending = new WeakMap<SandboxTable, Set<string>>();

/** Captures being made right now on `table` (no record names them yet; collection spares them). */
export function pendingCaptures(table: SandboxTable): Set<string> {
  let set = pending.get(table);
  if (!set) {
    set = new Set();
    pending.set(table, set);
  }
  return set;
}

/** Capture ids some sandbox of this host still depends on, or that are being made. */
export function capturesInUse(table: SandboxTable): Set<string> {
  const inUse = new Set<string>(pendingCaptures(table));
  for (const entry of table.entries.values()) {
    for (const id of entry.record.forkCaptures ?? []) inUse.add(id);
  }
  return inUse;
}

/**
 * Deletes every fork capture no sandbox names any more (after a destroy, a failed fork, and at
 * start-up once the surviving sandboxes are known, so a capture an agent crash left half-made
 * goes too). Answers the ids it deleted.
 */
export async function collectForkCaptures(table: SandboxTable, ramRoot = FORK_RAM_ROOT): Promise<string[]> {
  const inUse = capturesInUse(table);
  const dir = forksDir(table.options.layout);
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (inUse.has(name)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  // RAM files on the tmpfs go with their capture (a running fork keeps its mapping of an unlinked file).
  const ramDir = forkRamDir(table.options.layout, ramRoot);
  for (const name of await readdir(ramDir).catch(() => [] as string[])) {
    if (name.endsWith(".ram") && !inUse.has(name.slice(0, -".ram".length))) {
      await rm(join(ramDir, name), { force: true });
    }
  }
  await sweepForkRamDirs(ramRoot);
  if (removed.length > 0) table.logger.debug({ captures: removed }, "fork captures deleted");
  return removed;
}

/**
 * Removes the fork RAM directories of data directories that no longer exist (an agent whose data
 * directory was deleted, e.g. a test's, leaves its tmpfs files behind otherwise). Answers how many.
 */
export async function sweepForkRamDirs(root = FORK_RAM_ROOT): Promise<number> {
  let swept = 0;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith("wrenn-forks-")) continue;
    const dir = join(root, name);
    const owner = await readFile(join(dir, FORK_RAM_OWNER), "utf8").catch(() => undefined);
    if (owner === undefined) continue;
    const gone = await stat(owner).then(
      () => false,
      (err: NodeJS.ErrnoException) => err.code === "ENOENT",
    );
    if (!gone) continue;
    await rm(dir, { recursive: true, force: true });
    swept++;
  }
  return swept;
}
