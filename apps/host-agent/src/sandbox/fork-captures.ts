import { execFile } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { assertSafeName } from "@wrenn/common";
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
export async function collectForkCaptures(table: SandboxTable): Promise<string[]> {
  const inUse = capturesInUse(table);
  const dir = forksDir(table.options.layout);
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (inUse.has(name)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  if (removed.length > 0) table.logger.debug({ captures: removed }, "fork captures deleted");
  return removed;
}
