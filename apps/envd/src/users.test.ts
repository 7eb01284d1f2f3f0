import { appendFile, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserDatabase } from "./users.ts";

let dir: string;
let db: UserDatabase;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "envd-users-"));
  await writeFile(join(dir, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  await writeFile(join(dir, "group"), "root:x:0:\n");
  db = new UserDatabase({ passwdFile: join(dir, "passwd"), groupFile: join(dir, "group") });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("UserDatabase", () => {
  it("sees an account added right after a lookup (no time-based staleness)", async () => {
    expect(db.resolve("root").uid).toBe(0);
    expect(() => db.resolve("builder")).toThrow(/user 'builder' does not exist/);
    // Appended in place (same inode), within the same millisecond as far as a cache could tell.
    await appendFile(join(dir, "passwd"), "builder:x:1000:1000::/home/builder:/bin/bash\n");
    expect(db.resolve("builder")).toMatchObject({ uid: 1000, gid: 1000, home: "/home/builder" });
  });

  it("sees a passwd file replaced by a rename, as useradd does, and a new group membership", async () => {
    expect(db.groupIds(db.resolve("root"))).toEqual([0]);
    await writeFile(
      join(dir, "passwd.new"),
      "root:x:0:0:root:/root:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n",
    );
    await rename(join(dir, "passwd.new"), join(dir, "passwd"));
    await writeFile(join(dir, "group"), "root:x:0:\ndocker:x:999:root,bob\n");
    expect(db.resolve("bob").uid).toBe(1001);
    expect(db.groupIds(db.resolve("root"))).toEqual([0, 999]);
    expect(db.groupName(999)).toBe("docker");
  });

  it("answers from its snapshot while the files are unchanged, and with none when they are missing", async () => {
    const first = db.resolve("root");
    expect(db.resolve("root")).toBe(first);
    await rm(join(dir, "passwd"));
    expect(() => db.resolve("root")).toThrow(/does not exist/);
  });
});
