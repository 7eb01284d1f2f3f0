import { open, readFile } from "node:fs/promises";

const PAGE = 4096;
// /proc/<pid>/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst), in the high word.
const PRESENT = 0x8000_0000; // bit 63
const SWAPPED = 0x4000_0000; // bit 62
const FILE_OR_SHARED = 0x2000_0000; // bit 61

/** Where a file is mapped in a process, from /proc/<pid>/maps. */
export interface FileMapping {
  start: number;
  bytes: number;
}

/**
 * The mapping of `path` in process `pid` that is exactly `bytes` long, or undefined when there
 * is none (the process maps other memory, or the file was replaced since).
 */
export async function findFileMapping(
  pid: number,
  path: string,
  bytes: number,
): Promise<FileMapping | undefined> {
  const maps = await readFile(`/proc/${pid}/maps`, "utf8");
  for (const line of maps.split("\n")) {
    // "start-end perms offset dev inode   path"
    const fields = line.split(/\s+/);
    if (fields.length < 6 || fields.slice(5).join(" ") !== path || fields[2] !== "00000000") continue;
    const [from = "", to = ""] = (fields[0] ?? "").split("-");
    const start = Number.parseInt(from, 16);
    const length = Number.parseInt(to, 16) - start;
    if (length === bytes) return { start, bytes };
  }
  return undefined;
}

/**
 * A bitmap of the pages of `mapping` (a private mapping of a file in process `pid`) that no
 * longer read as the file does: copied on write into the process's own memory, or swapped
 * out. Page `n` is bit `n % 8` of byte `n >> 3`. A page never touched, or still the file's
 * page-cache page, is clear: it holds what the file holds.
 *
 * Read while the process cannot write (a stopped VM): a page copied later is not in it.
 */
export async function changedPages(pid: number, mapping: FileMapping): Promise<Uint8Array> {
  const pages = Math.ceil(mapping.bytes / PAGE);
  const entries = Buffer.alloc(pages * 8);
  const file = await open(`/proc/${pid}/pagemap`, "r");
  try {
    let done = 0;
    const first = (mapping.start / PAGE) * 8;
    while (done < entries.length) {
      const { bytesRead } = await file.read(entries, done, entries.length - done, first + done);
      if (bytesRead === 0) throw new Error(`short read of /proc/${pid}/pagemap`);
      done += bytesRead;
    }
  } finally {
    await file.close();
  }
  const bitmap = new Uint8Array(Math.ceil(pages / 8));
  for (let page = 0; page < pages; page++) {
    const high = entries.readUInt32LE(page * 8 + 4);
    const copied = (high & PRESENT) !== 0 && (high & FILE_OR_SHARED) === 0;
    if (copied || (high & SWAPPED) !== 0)
      bitmap[page >> 3] = (bitmap[page >> 3] as number) | (1 << (page & 7));
  }
  return bitmap;
}
