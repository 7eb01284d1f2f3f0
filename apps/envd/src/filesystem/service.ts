import { randomUUID } from "node:crypto";
import { chown, cp, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { errors } from "@wrenn/common";
import {
  type EntryInfo,
  EventType,
  type Filesystem,
  type FilesystemEvent,
  FilesystemEventSchema,
} from "@wrenn/proto";
import type { EnvdContext } from "../context.ts";
import { toWrennError } from "../errors.ts";
import { resolveUserPath } from "../paths.ts";
import { keepaliveIntervalMs, rpcUser } from "../rpc.ts";
import type { UserAccount } from "../users.ts";
import { requireReadable, requireWritableParent } from "./access.ts";
import { entryInfo } from "./entry.ts";
import { DirectoryWatcher, type WatchEvent } from "./watcher.ts";

/** Events a polling watcher keeps between two GetWatcherEvents calls (oldest dropped beyond). */
const MAX_QUEUED_WATCH_EVENTS = 10_000;
/** Most entries ListDir returns in one response. */
const MAX_LIST_ENTRIES = 100_000;

/** Runs a filesystem operation, turning errno errors into messages that name the client's path. */
async function onPath<T>(ctx: EnvdContext, path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw toWrennError(err, ctx.logger, path);
  }
}

/** Fills in the entries' metadata (user.e2b.* xattrs) with one helper call for all of them. */
async function withMetadata(ctx: EnvdContext, entries: EntryInfo[]): Promise<EntryInfo[]> {
  const found = await ctx.metadata.read(entries.map((entry) => entry.path));
  entries.forEach((entry, i) => {
    const metadata = found[i];
    if (metadata) entry.metadata = metadata;
  });
  return entries;
}

/** Creates `dir` and any missing parents, owned by `user`. */
async function makeDirectories(dir: string, user: UserAccount): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  let current = first;
  await chown(current, user.uid, user.gid);
  const rest = relative(first, dir);
  for (const part of rest ? rest.split(sep) : []) {
    current = join(current, part);
    await chown(current, user.uid, user.gid);
  }
}

async function requireDirectory(path: string): Promise<void> {
  const info = await stat(path);
  if (!info.isDirectory()) throw errors.invalidArgument(`'${path}' is not a directory`);
}

async function toFilesystemEvent(
  ctx: EnvdContext,
  event: WatchEvent,
  includeEntry: boolean,
): Promise<FilesystemEvent> {
  let entry: EntryInfo | undefined;
  if (includeEntry && event.type !== EventType.REMOVE && event.type !== EventType.RENAME) {
    entry = await entryInfo(event.path, ctx.users).catch(() => undefined);
  }
  return create(FilesystemEventSchema, { name: event.name, type: event.type, entry });
}

interface PollingWatcher {
  watcher: DirectoryWatcher;
  events: WatchEvent[];
  includeEntry: boolean;
}

/** The `filesystem.Filesystem` Connect service. */
export function createFilesystemService(
  ctx: EnvdContext,
): ServiceImpl<typeof Filesystem> & { closeAll(): void } {
  const pollingWatchers = new Map<string, PollingWatcher>();

  const startWatcher = async (
    rawPath: string,
    user: UserAccount,
    recursive: boolean,
    onEvent: (event: WatchEvent) => void,
  ): Promise<DirectoryWatcher> => {
    const path = resolveUserPath(rawPath, user, ctx.state.defaultWorkdir);
    return onPath(ctx, path, async () => {
      await requireReadable(path, user, ctx.users);
      await requireDirectory(path);
      const watcher = new DirectoryWatcher(path, recursive, onEvent);
      try {
        watcher.start();
      } catch (err) {
        watcher.close();
        throw err;
      }
      return watcher;
    });
  };

  return {
    async stat(req, handler) {
      const user = rpcUser(ctx, handler);
      const path = resolveUserPath(req.path, user, ctx.state.defaultWorkdir);
      const entry = await onPath(ctx, path, () => entryInfo(path, ctx.users));
      await withMetadata(ctx, [entry]);
      return { entry };
    },

    async makeDir(req, handler) {
      const user = rpcUser(ctx, handler);
      const path = resolveUserPath(req.path, user, ctx.state.defaultWorkdir);
      return onPath(ctx, path, async () => {
        const existing = await lstat(path).catch(() => undefined);
        if (existing?.isDirectory()) throw errors.alreadyExists(`directory '${path}' already exists`);
        if (existing) throw errors.invalidArgument(`'${path}' exists and is not a directory`);
        await requireWritableParent(path, user, ctx.users);
        await makeDirectories(path, user);
        return { entry: await entryInfo(path, ctx.users) };
      });
    },

    async move(req, handler) {
      const user = rpcUser(ctx, handler);
      const source = resolveUserPath(req.source, user, ctx.state.defaultWorkdir);
      const destination = resolveUserPath(req.destination, user, ctx.state.defaultWorkdir);
      await onPath(ctx, source, () => lstat(source));
      await onPath(ctx, source, () => requireWritableParent(source, user, ctx.users));
      return onPath(ctx, destination, async () => {
        await requireWritableParent(destination, user, ctx.users);
        await makeDirectories(dirname(destination), user);
        try {
          await rename(source, destination);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
          // Different filesystems: copy, then remove the original.
          await cp(source, destination, {
            recursive: true,
            preserveTimestamps: true,
            verbatimSymlinks: true,
          });
          await rm(source, { recursive: true });
        }
        const [entry] = await withMetadata(ctx, [await entryInfo(destination, ctx.users)]);
        return { entry };
      });
    },

    async listDir(req, handler) {
      const user = rpcUser(ctx, handler);
      const root = resolveUserPath(req.path, user, ctx.state.defaultWorkdir);
      const depth = req.depth === 0 ? 1 : req.depth;
      return onPath(ctx, root, async () => {
        await requireReadable(root, user, ctx.users);
        await requireDirectory(root);
        const entries: EntryInfo[] = [];
        const walk = async (dir: string, level: number): Promise<void> => {
          const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
            // Unreadable subdirectories are skipped; only the requested one must be readable.
            if (dir !== root && (err.code === "EACCES" || err.code === "ENOENT")) return [] as string[];
            throw err;
          });
          names.sort();
          for (const name of names) {
            if (entries.length >= MAX_LIST_ENTRIES)
              throw errors.resourceExhausted("too many entries; lower the depth");
            const path = join(dir, name);
            const info = await lstat(path).catch(() => undefined);
            if (!info) continue;
            entries.push(await entryInfo(path, ctx.users, info));
            if (info.isDirectory() && level < depth) await walk(path, level + 1);
          }
        };
        await walk(root, 1);
        return { entries: await withMetadata(ctx, entries) };
      });
    },

    async remove(req, handler) {
      const user = rpcUser(ctx, handler);
      const path = resolveUserPath(req.path, user, ctx.state.defaultWorkdir);
      await onPath(ctx, path, async () => {
        // As E2B's envd (a recursive remove): a path that is already gone is removed.
        const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return undefined;
          throw err;
        });
        if (!existing) return;
        await requireWritableParent(path, user, ctx.users);
        await rm(path, { recursive: true });
      });
      return {};
    },

    async *watchDir(req, handler) {
      const user = rpcUser(ctx, handler);
      const events: WatchEvent[] = [];
      let wake: (() => void) | undefined;
      const watcher = await startWatcher(req.path, user, req.recursive, (event) => {
        if (events.length >= MAX_QUEUED_WATCH_EVENTS) events.shift();
        events.push(event);
        wake?.();
      });
      const interval = keepaliveIntervalMs(handler);
      try {
        yield { event: { case: "start", value: {} } };
        while (!handler.signal.aborted) {
          const event = events.shift();
          if (event) {
            yield {
              event: { case: "filesystem", value: await toFilesystemEvent(ctx, event, req.includeEntry) },
            };
            continue;
          }
          const timedOut = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => done(true), interval);
            const onAbort = () => done(false);
            const done = (byTimer: boolean) => {
              clearTimeout(timer);
              handler.signal.removeEventListener("abort", onAbort);
              wake = undefined;
              resolve(byTimer);
            };
            handler.signal.addEventListener("abort", onAbort, { once: true });
            wake = () => done(false);
          });
          if (timedOut) yield { event: { case: "keepalive", value: {} } };
        }
      } finally {
        watcher.close();
      }
    },

    async createWatcher(req, handler) {
      const user = rpcUser(ctx, handler);
      const watcherId = randomUUID();
      const state: PollingWatcher = {
        watcher: undefined as unknown as DirectoryWatcher,
        events: [],
        includeEntry: req.includeEntry,
      };
      state.watcher = await startWatcher(req.path, user, req.recursive, (event) => {
        if (state.events.length >= MAX_QUEUED_WATCH_EVENTS) state.events.shift();
        state.events.push(event);
      });
      pollingWatchers.set(watcherId, state);
      return { watcherId };
    },

    async getWatcherEvents(req) {
      const state = pollingWatchers.get(req.watcherId);
      if (!state) throw errors.notFound(`watcher '${req.watcherId}' not found`);
      const batch = state.events.splice(0);
      return {
        events: await Promise.all(batch.map((event) => toFilesystemEvent(ctx, event, state.includeEntry))),
      };
    },

    async removeWatcher(req) {
      const state = pollingWatchers.get(req.watcherId);
      if (!state) throw errors.notFound(`watcher '${req.watcherId}' not found`);
      state.watcher.close();
      pollingWatchers.delete(req.watcherId);
      return {};
    },

    closeAll() {
      for (const state of pollingWatchers.values()) state.watcher.close();
      pollingWatchers.clear();
    },
  };
}
