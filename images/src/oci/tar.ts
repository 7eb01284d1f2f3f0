import { gunzipSync } from "node:zlib";

/** One entry of a tar archive, as an OCI layer holds it. */
export interface TarEntry {
  path: string;
  /** `file`, `dir`, `symlink`, `hardlink`; other kinds (devices, fifos) are `other`. */
  type: "file" | "dir" | "symlink" | "hardlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
  data: Buffer;
}

/** Thrown when an entry's data runs past the end of the archive; callers map it to their boundary's error. */
export class TruncatedTarError extends Error {
  constructor() {
    super("truncated tar archive");
    this.name = "TruncatedTarError";
  }
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? raw.length : nul).toString("utf8");
}

function numeric(block: Buffer, start: number, length: number): number {
  // GNU base-256 for large values: high bit of the first byte set.
  if ((block[start] ?? 0) & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + (block[i] ?? 0);
    return n;
  }
  const text = field(block, start, length).trim();
  return text ? Number.parseInt(text, 8) : 0;
}

function pax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) break;
    const len = Number.parseInt(data.subarray(off, space).toString("ascii"), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.subarray(space + 1, off + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    off += len;
  }
  return out;
}

const kinds: Record<string, TarEntry["type"]> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "5": "dir",
  "2": "symlink",
  "1": "hardlink",
};

/**
 * Every entry of a tar archive (ustar, GNU long names and links, PAX path /
 * linkpath), gzip-compressed or not — what an OCI layer blob and an uploaded
 * build context are.
 */
export function* tarEntries(archive: Buffer): Generator<TarEntry> {
  const buf = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const size = numeric(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw new TruncatedTarError();
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === "L") longName = field(data, 0, data.length);
    else if (type === "K") longLink = field(data, 0, data.length);
    else if (type === "x") {
      const p = pax(data);
      longName = p.path ?? longName;
      longLink = p.linkpath ?? longLink;
    } else if (type !== "g") {
      const prefix = field(header, 345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      yield {
        path: name,
        type: kinds[type] ?? "other",
        mode: numeric(header, 100, 8) & 0o7777,
        uid: numeric(header, 108, 8),
        gid: numeric(header, 116, 8),
        linkname: longLink ?? field(header, 157, 100),
        data: Buffer.from(data),
      };
      longName = undefined;
      longLink = undefined;
    }
  }
}
