import { type FSWatcher, lstatSync, readdirSync, type Stats, watch } from "node:fs";
import { join, relative } from "node:path";
import { EventType } from "@wrenn/proto";

/** One change under a watched directory. */
export interface WatchEvent {
  /** Path relative to the watched directory. */
  name: string;
  /** Absolute path. */
  path: string;
  type: EventType;
}

interface Known {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  isDirectory: boolean;
}

/** How long a vanished entry waits for its new name to appear before it counts as removed. */
const RENAME_WINDOW_MS = 25;

function snapshot(info: Stats): Known {
  return { ino: info.ino, mode: info.mode, uid: info.uid, gid: info.gid, isDirectory: info.isDirectory() };
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Watches a directory (optionally its whole tree) with one inotify watch per
 * directory and turns the kernel's coarse "rename"/"change" notifications into
 * fsnotify-style create/write/remove/rename/chmod events by comparing with the
 * entries it has seen: a vanished entry whose inode reappears under another
 * name within a short window is a rename, otherwise a remove.
 */
export class DirectoryWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly known = new Map<string, Known>();
  private readonly pendingRemovals = new Map<number, { path: string; timer: NodeJS.Timeout }>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly recursive: boolean,
    private readonly onEvent: (event: WatchEvent) => void,
  ) {}

  /** Starts watching; throws (ENOENT, ENOTDIR, …) when the root cannot be watched. */
  start(): void {
    this.watchDirectory(this.root, false);
  }

  /** Stops every watch. */
  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const pending of this.pendingRemovals.values()) clearTimeout(pending.timer);
    this.pendingRemovals.clear();
  }

  private emit(path: string, type: EventType): void {
    if (this.closed) return;
    this.onEvent({ name: relative(this.root, path), path, type });
  }

  /** Watches `dir` and records its entries; `announce` reports them as created (a new subtree). */
  private watchDirectory(dir: string, announce: boolean): void {
    if (this.closed || this.watchers.has(dir)) return;
    const watcher = watch(dir, { persistent: false }, (kind, filename) => {
      if (filename === null) return;
      this.handle(join(dir, filename.toString()), kind);
    });
    watcher.on("error", () => this.unwatch(dir));
    this.watchers.set(dir, watcher);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      names = [];
    }
    for (const name of names) {
      const path = join(dir, name);
      const info = lstatOrUndefined(path);
      if (!info) continue;
      this.known.set(path, snapshot(info));
      if (announce) this.emit(path, EventType.CREATE);
      if (this.recursive && info.isDirectory()) this.watchDirectory(path, announce);
    }
  }

  private unwatch(dir: string): void {
    for (const [path, watcher] of this.watchers) {
      if (path === dir || path.startsWith(`${dir}/`)) {
        watcher.close();
        this.watchers.delete(path);
      }
    }
    for (const path of this.known.keys()) {
      if (path.startsWith(`${dir}/`)) this.known.delete(path);
    }
  }

  private handle(path: string, kind: string): void {
    if (this.closed) return;
    const info = lstatOrUndefined(path);
    const before = this.known.get(path);
    if (!info) {
      if (!before) return;
      this.known.delete(path);
      if (before.isDirectory) this.unwatch(path);
      // Wait briefly: if the inode shows up under a new name, this was a rename.
      const timer = setTimeout(() => {
        this.pendingRemovals.delete(before.ino);
        this.emit(path, EventType.REMOVE);
      }, RENAME_WINDOW_MS);
      const earlier = this.pendingRemovals.get(before.ino);
      if (earlier) {
        clearTimeout(earlier.timer);
        this.emit(earlier.path, EventType.REMOVE);
      }
      this.pendingRemovals.set(before.ino, { path, timer });
      return;
    }
    const now = snapshot(info);
    if (kind === "rename" && (!before || before.ino !== now.ino)) {
      const renamedFrom = this.pendingRemovals.get(now.ino);
      if (renamedFrom) {
        clearTimeout(renamedFrom.timer);
        this.pendingRemovals.delete(now.ino);
        this.emit(renamedFrom.path, EventType.RENAME);
      }
      this.known.set(path, now);
      this.emit(path, EventType.CREATE);
      if (this.recursive && now.isDirectory) this.watchDirectory(path, true);
      return;
    }
    this.known.set(path, now);
    if (before && (before.mode !== now.mode || before.uid !== now.uid || before.gid !== now.gid)) {
      this.emit(path, EventType.CHMOD);
      return;
    }
    // Directories report "change" when entries inside them change; those entries get their own events.
    if (!now.isDirectory) this.emit(path, EventType.WRITE);
  }
}
