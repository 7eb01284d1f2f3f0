import type { Stats } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { errors } from "@wrenn/common";
import type { UserAccount, UserDatabase } from "../users.ts";

const READ = 4;
const WRITE = 2;
const EXECUTE = 1;

/**
 * envd runs as root, so the kernel would allow everything. These checks apply
 * the classic owner/group/other rules for the requesting user so that `user`
 * cannot read or change what it could not touch from its own shell.
 */
export function mayAccess(info: Stats, user: UserAccount, users: UserDatabase, want: number): boolean {
  if (user.uid === 0) return true;
  let bits: number;
  if (info.uid === user.uid) bits = (info.mode >> 6) & 7;
  else if (users.groupIds(user).includes(info.gid)) bits = (info.mode >> 3) & 7;
  else bits = info.mode & 7;
  return (bits & want) === want;
}

/** Throws `permission_denied` unless `user` may search every directory above `path`. */
export async function requireTraversable(
  path: string,
  user: UserAccount,
  users: UserDatabase,
): Promise<void> {
  if (user.uid === 0) return;
  let dir = dirname(path);
  const ancestors: string[] = [];
  for (;;) {
    ancestors.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const ancestor of ancestors) {
    const info = await stat(ancestor).catch(() => undefined);
    if (!info) return;
    if (info.isDirectory() && !mayAccess(info, user, users, EXECUTE)) {
      throw errors.permissionDenied(`permission denied for '${path}'`);
    }
  }
}

/** Throws `permission_denied` unless `user` may reach and read `path` (which must exist). */
export async function requireReadable(path: string, user: UserAccount, users: UserDatabase): Promise<Stats> {
  const info = await stat(path);
  await requireTraversable(path, user, users);
  const want = info.isDirectory() ? READ | EXECUTE : READ;
  if (!mayAccess(info, user, users, want)) throw errors.permissionDenied(`permission denied for '${path}'`);
  return info;
}

/**
 * Throws `permission_denied` unless `user` may create, replace or remove the
 * entry at `path`: that needs write+search permission on the nearest existing
 * ancestor directory (directories missing in between are created by envd).
 */
export async function requireWritableParent(
  path: string,
  user: UserAccount,
  users: UserDatabase,
): Promise<void> {
  if (user.uid === 0) return;
  let dir = dirname(path);
  for (;;) {
    const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (info) {
      if (!info.isDirectory()) throw errors.invalidArgument(`'${dir}' is not a directory`);
      if (!mayAccess(info, user, users, WRITE | EXECUTE)) {
        throw errors.permissionDenied(`permission denied for '${dir}'`);
      }
      return;
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** Throws `permission_denied` unless `user` may overwrite the existing file at `path`. */
export async function requireWritableFile(
  path: string,
  user: UserAccount,
  users: UserDatabase,
): Promise<void> {
  if (user.uid === 0) return;
  const info = await lstat(path).catch(() => undefined);
  if (info && !mayAccess(info, user, users, WRITE))
    throw errors.permissionDenied(`permission denied for '${path}'`);
}
