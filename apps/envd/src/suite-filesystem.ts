import { Code } from "@connectrpc/connect";
import { EventType, FileType, type WatchDirResponse } from "@wrenn/proto";
import { collect, envdClients, type SuiteSession, waitFor } from "@wrenn/testing/envd-target";
import { describe, expect, it } from "vitest";

const sh = (script: string) => ({ cmd: "/bin/sh", args: ["-c", script] });

/** Filesystem service tests: every RPC, entry info, errors, permissions, both watchers. */
export function registerFilesystemTests(getSession: () => SuiteSession): void {
  describe("filesystem", () => {
    const dir = () => `${getSession().target.scratchDir}/fs`;
    const run = async (script: string, user = "user") => {
      const result = await collect(
        envdClients(getSession(), { user }).process.start({ process: sh(script) }),
      );
      if (result.end?.exitCode !== 0) throw new Error(`${script} failed: ${result.stderr}`);
      return result.stdout;
    };

    it("makes directories (with parents), owned by the user", async () => {
      const { filesystem } = envdClients(getSession());
      const made = await filesystem.makeDir({ path: `${dir()}/a/b/c` });
      expect(made.entry).toMatchObject({
        name: "c",
        path: `${dir()}/a/b/c`,
        type: FileType.DIRECTORY,
        owner: "user",
      });
      expect(made.entry?.permissions).toMatch(/^drwx/);
      const parent = await filesystem.stat({ path: `${dir()}/a` });
      expect(parent.entry?.owner).toBe("user");
      await expect(filesystem.makeDir({ path: `${dir()}/a/b/c` })).rejects.toMatchObject({
        code: Code.AlreadyExists,
      });
    });

    it("stats files, directories and symlinks with full entry info", async () => {
      await run(
        `printf 12345 > ${dir()}/a/file.txt && chmod 640 ${dir()}/a/file.txt && ln -s file.txt ${dir()}/a/link`,
      );
      const { filesystem } = envdClients(getSession());
      const file = (await filesystem.stat({ path: `${dir()}/a/file.txt` })).entry;
      expect(file).toMatchObject({
        name: "file.txt",
        type: FileType.FILE,
        size: 5n,
        mode: 0o640,
        permissions: "-rw-r-----",
        owner: "user",
        group: "user",
      });
      const modified = Number(file?.modifiedTime?.seconds ?? 0n) * 1000;
      expect(Math.abs(modified - Date.now())).toBeLessThan(120_000);
      const link = (await filesystem.stat({ path: `${dir()}/a/link` })).entry;
      // E2B's envd reports the absolute target of a relative link.
      expect(link).toMatchObject({ type: FileType.SYMLINK, symlinkTarget: `${dir()}/a/file.txt` });
      expect(link?.permissions.startsWith("L")).toBe(true);
      const home = (await filesystem.stat({ path: "~" })).entry;
      expect(home?.path).toBe(getSession().target.userHome);
      await expect(filesystem.stat({ path: `${dir()}/missing` })).rejects.toMatchObject({
        code: Code.NotFound,
      });
    });

    it("lists a directory to a given depth", async () => {
      const { filesystem } = envdClients(getSession());
      const shallow = await filesystem.listDir({ path: `${dir()}/a`, depth: 1 });
      expect(shallow.entries.map((e) => e.name).sort()).toEqual(["b", "file.txt", "link"]);
      const deep = await filesystem.listDir({ path: `${dir()}/a`, depth: 3 });
      expect(deep.entries.map((e) => e.path).sort()).toEqual(
        [`${dir()}/a/b`, `${dir()}/a/b/c`, `${dir()}/a/file.txt`, `${dir()}/a/link`].sort(),
      );
      await expect(filesystem.listDir({ path: `${dir()}/a/file.txt`, depth: 1 })).rejects.toMatchObject({
        code: Code.InvalidArgument,
      });
      await expect(filesystem.listDir({ path: `${dir()}/nope`, depth: 1 })).rejects.toMatchObject({
        code: Code.NotFound,
      });
    });

    it("moves and removes entries", async () => {
      const { filesystem } = envdClients(getSession());
      const moved = await filesystem.move({
        source: `${dir()}/a/file.txt`,
        destination: `${dir()}/moved/here.txt`,
      });
      expect(moved.entry).toMatchObject({ name: "here.txt", type: FileType.FILE, size: 5n });
      await expect(filesystem.stat({ path: `${dir()}/a/file.txt` })).rejects.toMatchObject({
        code: Code.NotFound,
      });
      await filesystem.remove({ path: `${dir()}/moved` });
      await expect(filesystem.stat({ path: `${dir()}/moved/here.txt` })).rejects.toMatchObject({
        code: Code.NotFound,
      });
      // Removing what is already gone succeeds, as in E2B's envd.
      await filesystem.remove({ path: `${dir()}/moved` });
      await filesystem.remove({ path: `${dir()}/never/existed` });
      await expect(
        filesystem.move({ source: `${dir()}/does-not-exist`, destination: `${dir()}/x` }),
      ).rejects.toMatchObject({ code: Code.NotFound });
    });

    it("enforces the user's permissions", async () => {
      await run(
        `mkdir -p ${dir()}/private && echo secret > ${dir()}/private/s && chmod 700 ${dir()}/private`,
        "root",
      );
      const asUser = envdClients(getSession(), { user: "user" }).filesystem;
      const asRoot = envdClients(getSession(), { user: "root" }).filesystem;
      await expect(asUser.listDir({ path: `${dir()}/private`, depth: 1 })).rejects.toMatchObject({
        code: Code.PermissionDenied,
      });
      await expect(asUser.remove({ path: `${dir()}/private/s` })).rejects.toMatchObject({
        code: Code.PermissionDenied,
      });
      await expect(asUser.makeDir({ path: `${dir()}/private/sub` })).rejects.toMatchObject({
        code: Code.PermissionDenied,
      });
      expect((await asRoot.listDir({ path: `${dir()}/private`, depth: 1 })).entries).toHaveLength(1);
    });

    it("streams create, write, chmod, rename and remove events with WatchDir", async () => {
      const { filesystem } = envdClients(getSession(), { headers: { "Keepalive-Ping-Interval": "1" } });
      const watched = `${dir()}/watched`;
      await filesystem.makeDir({ path: watched });
      const controller = new AbortController();
      const events: Array<{ name: string; type: EventType; entryType?: FileType }> = [];
      const stream = filesystem.watchDir(
        { path: watched, recursive: false, includeEntry: true },
        { signal: controller.signal },
      );
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect((first.value as WatchDirResponse).event.case).toBe("start");
      const reading = (async () => {
        for (;;) {
          const next = await iterator.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) return;
          const event = next.value.event;
          if (event.case === "filesystem") {
            events.push({
              name: event.value.name,
              type: event.value.type,
              entryType: event.value.entry?.type,
            });
          }
        }
      })();
      await run(
        `cd ${watched} && echo one > f && sleep 0.3 && echo two >> f && sleep 0.3 && chmod 600 f && sleep 0.3 && mv f g && sleep 0.3 && rm g`,
      );
      await waitFor(
        async () => (events.some((e) => e.type === EventType.REMOVE && e.name === "g") ? true : undefined),
        10_000,
        "remove event",
      );
      controller.abort();
      await reading;
      const kinds = events.map((e) => `${e.type}:${e.name}`);
      expect(kinds[0]).toBe(`${EventType.CREATE}:f`);
      expect(events.find((e) => e.type === EventType.CREATE)?.entryType).toBe(FileType.FILE);
      expect(kinds).toContain(`${EventType.WRITE}:f`);
      expect(kinds).toContain(`${EventType.CHMOD}:f`);
      expect(kinds).toContain(`${EventType.RENAME}:f`);
      expect(kinds).toContain(`${EventType.CREATE}:g`);
      expect(kinds.at(-1)).toBe(`${EventType.REMOVE}:g`);
      expect(kinds.indexOf(`${EventType.CHMOD}:f`)).toBeLessThan(kinds.indexOf(`${EventType.RENAME}:f`));
    });

    it("watches recursively, including directories created later", async () => {
      const { filesystem } = envdClients(getSession());
      const watched = `${dir()}/tree`;
      await filesystem.makeDir({ path: `${watched}/existing` });
      const controller = new AbortController();
      const names: string[] = [];
      const stream = filesystem.watchDir({ path: watched, recursive: true }, { signal: controller.signal });
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      const reading = (async () => {
        for (;;) {
          const next = await iterator.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) return;
          if (next.value.event.case === "filesystem")
            names.push(`${next.value.event.value.type}:${next.value.event.value.name}`);
        }
      })();
      await run(
        `echo x > ${watched}/existing/deep.txt && mkdir ${watched}/new && sleep 0.3 && echo y > ${watched}/new/later.txt`,
      );
      await waitFor(
        async () => (names.includes(`${EventType.CREATE}:new/later.txt`) ? true : undefined),
        10_000,
        "nested create",
      );
      controller.abort();
      await reading;
      expect(names).toContain(`${EventType.CREATE}:existing/deep.txt`);
      expect(names).toContain(`${EventType.CREATE}:new`);
      await expect(
        collect(
          filesystem.watchDir({
            path: `${dir()}/no-such-dir`,
            recursive: false,
            includeEntry: false,
          }) as never,
        ),
      ).rejects.toMatchObject({ code: Code.NotFound });
    });

    it("supports the polling watcher RPCs", async () => {
      const { filesystem } = envdClients(getSession());
      const watched = `${dir()}/polled`;
      await filesystem.makeDir({ path: watched });
      const { watcherId } = await filesystem.createWatcher({
        path: watched,
        recursive: false,
        includeEntry: false,
      });
      expect(watcherId).not.toBe("");
      await run(`touch ${watched}/p1`);
      const events = await waitFor(
        async () => {
          const batch = await filesystem.getWatcherEvents({ watcherId });
          return batch.events.length > 0 ? batch.events : undefined;
        },
        10_000,
        "polled events",
      );
      expect(events[0]).toMatchObject({ name: "p1", type: EventType.CREATE });
      expect(
        (await filesystem.getWatcherEvents({ watcherId })).events.filter((e) => e.type === EventType.CREATE),
      ).toHaveLength(0);
      await filesystem.removeWatcher({ watcherId });
      await expect(filesystem.getWatcherEvents({ watcherId })).rejects.toMatchObject({ code: Code.NotFound });
      await expect(
        filesystem.createWatcher({ path: `${watched}/p1`, recursive: false, includeEntry: false }),
      ).rejects.toMatchObject({ code: Code.InvalidArgument });
    });
  });
}
