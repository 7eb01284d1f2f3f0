import { readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type DataLayout, SANDBOX_FILES } from "../storage/layout.ts";
import type { SandboxRecord } from "./types.ts";

/** Writes a sandbox record atomically, readable by root only (it may hold the envd access token). */
export async function saveRecord(layout: DataLayout, record: SandboxRecord): Promise<void> {
  const path = join(layout.sandboxDir(record.id), SANDBOX_FILES.record);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

/** Reads a sandbox record; undefined when missing or unreadable. */
export async function loadRecord(dir: string): Promise<SandboxRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, SANDBOX_FILES.record), "utf8")) as SandboxRecord;
  } catch {
    return undefined;
  }
}

/** Names of the directories under `sandboxes/`. */
export async function sandboxDirNames(layout: DataLayout): Promise<string[]> {
  return readdir(layout.sandboxesDir).catch(() => [] as string[]);
}
