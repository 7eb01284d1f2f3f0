/**
 * A minimal writer for the "newc" cpio format the Linux kernel unpacks as an initramfs.
 * Writing the archive ourselves lets it contain device nodes and root-owned files without
 * running as root, and makes the output byte-for-byte reproducible (fixed mtimes).
 */

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** One member of the archive. Paths are relative, without a leading slash. */
export type CpioEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; data: Uint8Array; mode?: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "chardev"; path: string; major: number; minor: number; mode?: number };

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function member(ino: number, name: string, mode: number, data: Uint8Array, rdev: [number, number]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, "utf8");
  const header = Buffer.from(
    [
      "070701",
      hex8(ino),
      hex8(mode),
      hex8(0), // uid: root
      hex8(0), // gid: root
      hex8(mode & S_IFDIR ? 2 : 1),
      hex8(0), // mtime: fixed for reproducibility
      hex8(data.length),
      hex8(0),
      hex8(0),
      hex8(rdev[0]),
      hex8(rdev[1]),
      hex8(nameBytes.length),
      hex8(0),
    ].join(""),
    "ascii",
  );
  const head = Buffer.concat([header, nameBytes]);
  return [head, pad4(head.length), Buffer.from(data), pad4(data.length)];
}

/** Serialises `entries` (in the given order; parents before children) into a newc archive. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, "");
    switch (e.type) {
      case "dir":
        parts.push(...member(ino++, path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(), [0, 0]));
        break;
      case "file":
        parts.push(...member(ino++, path, S_IFREG | (e.mode ?? 0o644), e.data, [0, 0]));
        break;
      case "symlink":
        parts.push(...member(ino++, path, S_IFLNK | 0o777, Buffer.from(e.target, "utf8"), [0, 0]));
        break;
      case "chardev":
        parts.push(...member(ino++, path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(), [e.major, e.minor]));
        break;
    }
  }
  parts.push(...member(0, "TRAILER!!!", 0, new Uint8Array(), [0, 0]));
  return Buffer.concat(parts);
}
