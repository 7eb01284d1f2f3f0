import type { Stats } from "node:fs";
import { lstat, readlink, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type EntryInfo, EntryInfoSchema, FileType } from "@wrenn/proto";
import type { UserDatabase } from "../users.ts";

/** The `ls -l` style permission string Go's `fs.FileMode.String()` produces (E2B's format). */
export function permissionString(info: Stats): string {
  let kind = "-";
  if (info.isDirectory()) kind = "d";
  else if (info.isSymbolicLink()) kind = "L";
  else if (info.isFIFO()) kind = "p";
  else if (info.isSocket()) kind = "S";
  else if (info.isCharacterDevice()) kind = "c";
  else if (info.isBlockDevice()) kind = "D";
  const letters = "rwxrwxrwx";
  let perms = "";
  for (let bit = 0; bit < 9; bit++) {
    perms += info.mode & (1 << (8 - bit)) ? letters[bit] : "-";
  }
  return kind + perms;
}

/** The spec's file type for `info` (symlinks report the link itself). */
export function fileTypeOf(info: Stats): FileType {
  if (info.isSymbolicLink()) return FileType.SYMLINK;
  if (info.isDirectory()) return FileType.DIRECTORY;
  if (info.isFile()) return FileType.FILE;
  return FileType.UNSPECIFIED;
}

/**
 * Builds the spec's `EntryInfo` for `path` without following a final symlink
 * (its target is reported in `symlinkTarget`, as an absolute path the way E2B's envd
 * reports it: a relative link target is resolved against the link's directory).
 */
export async function entryInfo(path: string, users: UserDatabase, known?: Stats): Promise<EntryInfo> {
  const info = known ?? (await lstat(path));
  let symlinkTarget: string | undefined;
  let size = info.size;
  if (info.isSymbolicLink()) {
    symlinkTarget = resolve(dirname(path), await readlink(path));
    // A link to a file reports the file's size, as a user listing it would expect.
    size = await stat(path).then(
      (target) => target.size,
      () => info.size,
    );
  }
  return create(EntryInfoSchema, {
    name: basename(path) || path,
    type: fileTypeOf(info),
    path,
    size: BigInt(size),
    mode: info.mode & 0o777,
    permissions: permissionString(info),
    owner: users.userName(info.uid),
    group: users.groupName(info.gid),
    modifiedTime: timestampFromMs(Math.floor(info.mtimeMs)),
    symlinkTarget,
  });
}
