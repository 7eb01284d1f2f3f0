import { readFileSync, statSync } from "node:fs";
import { errors } from "@wrenn/common";

/** One account from the passwd database, as envd needs it to run processes and own files. */
export interface UserAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Where envd reads accounts and groups; tests point these at files in a temp dir. */
export interface UserDatabasePaths {
  passwdFile: string;
  groupFile: string;
}

interface Snapshot {
  /** Identity of the passwd and group files the snapshot was read from (see {@link fileStamp}). */
  stamp: string;
  users: Map<string, UserAccount>;
  userNamesByUid: Map<number, string>;
  groupNamesByGid: Map<number, string>;
  supplementaryGids: Map<string, number[]>;
}

/**
 * Reads accounts from passwd/group files, again whenever either file changed (a `stat` per
 * lookup), so an account added in the guest (useradd) is usable by the very next request.
 */
export class UserDatabase {
  private snapshot: Snapshot | undefined;

  constructor(private readonly paths: UserDatabasePaths) {}

  /** The account called `name`; `not_found`-style `unauthenticated` error when it does not exist. */
  resolve(name: string): UserAccount {
    const user = this.load().users.get(name);
    if (!user) throw errors.unauthenticated(`user '${name}' does not exist`);
    return user;
  }

  /** The user name for `uid`, or the number as text when the uid has no account. */
  userName(uid: number): string {
    return this.load().userNamesByUid.get(uid) ?? String(uid);
  }

  /** The group name for `gid`, or the number as text when unknown. */
  groupName(gid: number): string {
    return this.load().groupNamesByGid.get(gid) ?? String(gid);
  }

  /** Primary plus supplementary group ids of `user` (for permission checks). */
  groupIds(user: UserAccount): number[] {
    return [user.gid, ...(this.load().supplementaryGids.get(user.name) ?? [])];
  }

  private load(): Snapshot {
    // A time-based cache served a stale database to a request right after a useradd (a build's
    // USER step followed by a COPY as that user): the files' identity decides instead.
    const stamp = `${fileStamp(this.paths.passwdFile)}|${fileStamp(this.paths.groupFile)}`;
    if (this.snapshot?.stamp === stamp) return this.snapshot;
    const users = new Map<string, UserAccount>();
    const userNamesByUid = new Map<number, string>();
    for (const line of readLines(this.paths.passwdFile)) {
      const [name, , uid, gid, , home, shell] = line.split(":");
      if (!name || uid === undefined || gid === undefined) continue;
      const account: UserAccount = {
        name,
        uid: Number(uid),
        gid: Number(gid),
        home: home || "/",
        shell: shell || "/bin/sh",
      };
      if (!Number.isInteger(account.uid) || !Number.isInteger(account.gid)) continue;
      users.set(name, account);
      if (!userNamesByUid.has(account.uid)) userNamesByUid.set(account.uid, name);
    }
    const groupNamesByGid = new Map<number, string>();
    const supplementaryGids = new Map<string, number[]>();
    for (const line of readLines(this.paths.groupFile)) {
      const [name, , gidText, members] = line.split(":");
      const gid = Number(gidText);
      if (!name || !Number.isInteger(gid)) continue;
      if (!groupNamesByGid.has(gid)) groupNamesByGid.set(gid, name);
      for (const member of (members ?? "").split(",").filter(Boolean)) {
        supplementaryGids.set(member, [...(supplementaryGids.get(member) ?? []), gid]);
      }
    }
    this.snapshot = { stamp, users, userNamesByUid, groupNamesByGid, supplementaryGids };
    return this.snapshot;
  }
}

/**
 * Inode, size and change time (ns) of `file`, or "missing": shadow-utils replace the file by a
 * rename (new inode) and an in-place edit changes size or ctime.
 */
function fileStamp(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}`;
  } catch {
    return "missing";
  }
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#"));
  } catch {
    return [];
  }
}

/** PATH for processes, the same Debian's login shells give (root gets the sbin directories). */
export function defaultPath(user: UserAccount): string {
  return user.uid === 0
    ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    : "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";
}

/** The environment a login shell of `user` starts with. */
export function loginEnvironment(user: UserAccount): Record<string, string> {
  return {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
    PATH: defaultPath(user),
    LANG: "C.UTF-8",
  };
}
