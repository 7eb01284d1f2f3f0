import type { EntryInfo as ProtoEntry } from "@wrenn/proto";
import { type FileUrlOptions, signedFileUrl } from "./envd/file-urls.ts";
import type { EnvdRpc } from "./envd/rpc.ts";
import type { EnvdConnection } from "./envd/transport.ts";
import { ConflictError, errorFromConnect, NotFoundError, SandboxError, TimeoutError } from "./errors.ts";

/** What a file entry is. */
export type FileKind = "file" | "dir" | "symlink";

/** A file or directory in the sandbox. */
export interface EntryInfo {
  name: string;
  /** `undefined` for other kinds (sockets, devices). */
  type: FileKind | undefined;
  /** Absolute path. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Unix mode bits (e.g. `0o644`), with the type bits. */
  mode: number;
  /** `ls -l` style, e.g. `-rw-r--r--`. */
  permissions: string;
  owner: string;
  group: string;
  modifiedTime: Date | undefined;
  /** Where a symlink points. */
  symlinkTarget: string | undefined;
}

/** A file written by {@link Files.write}. */
export interface WriteInfo {
  name: string;
  type: FileKind | undefined;
  path: string;
}

/** What {@link Files.write} accepts as content. */
export type FileData = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

/** One file of a batch write. */
export interface WriteEntry {
  path: string;
  data: Exclude<FileData, ReadableStream<Uint8Array>>;
}

/** Options of every filesystem call. */
export interface FilesOptions {
  /** User the operation runs as (permissions, `~`, relative paths). Default: envd's default user. */
  user?: string | undefined;
  /** Timeout in ms until envd answers (0 = none). Default: 60000. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A filesystem change seen by {@link Files.watchDir}. */
export interface FilesystemEvent {
  /** Path relative to the watched directory. */
  name: string;
  type: "create" | "write" | "remove" | "rename" | "chmod";
}

/** Options of {@link Files.watchDir}. */
export interface WatchOptions {
  /** Watch subdirectories too. */
  recursive?: boolean | undefined;
  user?: string | undefined;
  /** Stop watching after this many ms (0 = never, the default). */
  timeoutMs?: number | undefined;
  /** Called once when the watch ends: with the error that ended it, or nothing after `stop()`/the timeout. */
  onExit?: ((err?: Error) => void) | undefined;
}

/** A running directory watch; `stop()` ends it. */
export interface WatchHandle {
  /**
   * Stops watching.
   *
   * @example
   * ```ts
   * const watch = await sandbox.files.watchDir("/tmp", console.log);
   * await watch.stop();
   * ```
   */
  stop(): Promise<void>;
}

const DEFAULT_FILES_TIMEOUT_MS = 60_000;
const WATCH_START_TIMEOUT_MS = 60_000;
const WATCH_STOP_WAIT_MS = 5_000;

/** An entry as the SDK shows it; `rpc` holds the generated enum values (loaded with the clients). */
function entryOf(e: ProtoEntry, { FileType, timestampDate }: EnvdRpc): EntryInfo {
  return {
    name: e.name,
    type:
      e.type === FileType.FILE
        ? "file"
        : e.type === FileType.DIRECTORY
          ? "dir"
          : e.type === FileType.SYMLINK
            ? "symlink"
            : undefined,
    path: e.path,
    size: Number(e.size),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modifiedTime: e.modifiedTime ? timestampDate(e.modifiedTime) : undefined,
    symlinkTarget: e.symlinkTarget,
  };
}

/** The SDK's name of a watch event's type (undefined: one the SDK does not report). */
function eventTypeOf(type: number, { EventType }: EnvdRpc): FilesystemEvent["type"] | undefined {
  switch (type) {
    case EventType.CREATE:
      return "create";
    case EventType.WRITE:
      return "write";
    case EventType.REMOVE:
      return "remove";
    case EventType.RENAME:
      return "rename";
    case EventType.CHMOD:
      return "chmod";
    default:
      return undefined;
  }
}

function toBlob(data: Exclude<FileData, ReadableStream<Uint8Array>>): Blob {
  if (data instanceof Blob) return data;
  if (typeof data === "string") return new Blob([data]);
  // Copy into a plain ArrayBuffer: Blob parts must not be views of a SharedArrayBuffer.
  return new Blob([data instanceof ArrayBuffer ? data : new Uint8Array(data)]);
}

/** The sandbox's filesystem: `sandbox.files`. envd's `filesystem.Filesystem` service and `/files`. */
export class Files {
  /** @internal */
  constructor(private readonly envd: EnvdConnection) {}

  private callOptions(options: FilesOptions) {
    return {
      headers: this.envd.userHeaders(options.user),
      timeoutMs: options.timeoutMs ?? DEFAULT_FILES_TIMEOUT_MS,
      signal: options.signal,
    };
  }

  /**
   * Reads a file: as text (default), bytes, or a stream for large files.
   *
   * @example
   * ```ts
   * const text = await sandbox.files.read("/etc/hostname");
   * const bytes = await sandbox.files.read("/bin/ls", { format: "bytes" });
   * const stream = await sandbox.files.read("/var/log/big.log", { format: "stream" });
   * ```
   */
  read(path: string, options?: FilesOptions & { format?: "text" }): Promise<string>;
  read(path: string, options: FilesOptions & { format: "bytes" }): Promise<Uint8Array>;
  read(path: string, options: FilesOptions & { format: "stream" }): Promise<ReadableStream<Uint8Array>>;
  async read(
    path: string,
    options: FilesOptions & { format?: "text" | "bytes" | "stream" } = {},
  ): Promise<string | Uint8Array | ReadableStream<Uint8Array>> {
    const res = await this.envd.fetch("/files", {
      method: "GET",
      query: { path, username: options.user },
      timeoutMs: options.timeoutMs ?? DEFAULT_FILES_TIMEOUT_MS,
      signal: options.signal,
    });
    if (options.format === "stream") {
      if (!res.body) throw new SandboxError(`read ${path}: envd sent no body`);
      return res.body as ReadableStream<Uint8Array>;
    }
    if (options.format === "bytes") return new Uint8Array(await res.arrayBuffer());
    return res.text();
  }

  /**
   * Writes a file (parent directories are created), or several files at once
   * when given a list of `{path, data}`. A `ReadableStream` is streamed
   * without buffering.
   *
   * @example
   * ```ts
   * await sandbox.files.write("/home/user/hello.txt", "hello");
   * await sandbox.files.write([
   *   { path: "/home/user/a.bin", data: new Uint8Array([1, 2, 3]) },
   *   { path: "/home/user/b.txt", data: "b" },
   * ]);
   * ```
   */
  write(path: string, data: FileData, options?: FilesOptions): Promise<WriteInfo>;
  write(entries: WriteEntry[], options?: FilesOptions): Promise<WriteInfo[]>;
  async write(
    pathOrEntries: string | WriteEntry[],
    dataOrOptions?: FileData | FilesOptions,
    maybeOptions?: FilesOptions,
  ): Promise<WriteInfo | WriteInfo[]> {
    const single = typeof pathOrEntries === "string";
    const options = (single ? maybeOptions : (dataOrOptions as FilesOptions | undefined)) ?? {};
    const common = {
      method: "POST",
      timeoutMs: options.timeoutMs ?? DEFAULT_FILES_TIMEOUT_MS,
      signal: options.signal,
    };
    let res: Response;
    if (single && dataOrOptions instanceof ReadableStream) {
      res = await this.envd.fetch("/files", {
        ...common,
        query: { path: pathOrEntries, username: options.user },
        headers: { "content-type": "application/octet-stream" },
        body: dataOrOptions,
      });
    } else {
      const entries: WriteEntry[] = single
        ? [{ path: pathOrEntries, data: dataOrOptions as WriteEntry["data"] }]
        : pathOrEntries;
      if (entries.length === 0) return [];
      const form = new FormData();
      // Each part's filename is its path: envd writes every part to its own file.
      for (const entry of entries) form.append("file", toBlob(entry.data), entry.path);
      res = await this.envd.fetch("/files", { ...common, query: { username: options.user }, body: form });
    }
    const written = (await res.json()) as { name: string; path: string; type?: string }[];
    const infos = written.map(
      (w): WriteInfo => ({
        name: w.name,
        path: w.path,
        type: w.type === "file" || w.type === "dir" || w.type === "symlink" ? w.type : undefined,
      }),
    );
    if (!single) return infos;
    const first = infos[0];
    if (!first) throw new SandboxError(`write ${pathOrEntries}: envd reported no file written`);
    return first;
  }

  /**
   * Lists a directory; `depth` > 1 descends into subdirectories.
   *
   * @example
   * ```ts
   * for (const e of await sandbox.files.list("/home/user", { depth: 2 })) console.log(e.type, e.path);
   * ```
   */
  async list(path: string, options: FilesOptions & { depth?: number } = {}): Promise<EntryInfo[]> {
    try {
      const rpc = await this.envd.rpc();
      const res = await rpc.filesystem.listDir(
        { path, depth: options.depth ?? 1 },
        this.callOptions(options),
      );
      return res.entries.map((e) => entryOf(e, rpc));
    } catch (err) {
      throw errorFromConnect(err, `list ${path}`);
    }
  }

  /**
   * Creates a directory and its parents. Answers false when it already existed.
   *
   * @example
   * ```ts
   * await sandbox.files.makeDir("/home/user/project/src");
   * ```
   */
  async makeDir(path: string, options: FilesOptions = {}): Promise<boolean> {
    try {
      await (await this.envd.rpc()).filesystem.makeDir({ path }, this.callOptions(options));
      return true;
    } catch (err) {
      const mapped = errorFromConnect(err, `make directory ${path}`);
      if (mapped instanceof ConflictError && mapped.code === "already_exists") return false;
      throw mapped;
    }
  }

  /**
   * Removes a file or a directory with everything in it.
   *
   * @example
   * ```ts
   * await sandbox.files.remove("/home/user/build");
   * ```
   */
  async remove(path: string, options: FilesOptions = {}): Promise<void> {
    try {
      await (await this.envd.rpc()).filesystem.remove({ path }, this.callOptions(options));
    } catch (err) {
      throw errorFromConnect(err, `remove ${path}`);
    }
  }

  /**
   * Renames (moves) a file or directory; answers the entry at its new path.
   *
   * @example
   * ```ts
   * await sandbox.files.rename("/home/user/a.txt", "/home/user/b.txt");
   * ```
   */
  async rename(oldPath: string, newPath: string, options: FilesOptions = {}): Promise<EntryInfo> {
    try {
      const rpc = await this.envd.rpc();
      const res = await rpc.filesystem.move(
        { source: oldPath, destination: newPath },
        this.callOptions(options),
      );
      if (!res.entry) throw new SandboxError(`rename ${oldPath}: envd answered no entry`);
      return entryOf(res.entry, rpc);
    } catch (err) {
      throw errorFromConnect(err, `rename ${oldPath}`);
    }
  }

  /**
   * True when the path exists (file, directory or symlink).
   *
   * @example
   * ```ts
   * if (!(await sandbox.files.exists("/home/user/.ready"))) await setUp();
   * ```
   */
  async exists(path: string, options: FilesOptions = {}): Promise<boolean> {
    try {
      await this.getInfo(path, options);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /**
   * Stat of one path. Throws {@link NotFoundError} when it does not exist.
   *
   * @example
   * ```ts
   * const info = await sandbox.files.getInfo("/home/user/hello.txt");
   * console.log(info.size, info.permissions, info.modifiedTime);
   * ```
   */
  async getInfo(path: string, options: FilesOptions = {}): Promise<EntryInfo> {
    try {
      const rpc = await this.envd.rpc();
      const res = await rpc.filesystem.stat({ path }, this.callOptions(options));
      if (!res.entry) throw new SandboxError(`stat ${path}: envd answered no entry`);
      return entryOf(res.entry, rpc);
    } catch (err) {
      throw errorFromConnect(err, `stat ${path}`);
    }
  }

  /**
   * A URL that downloads `path` with a plain GET, no header or API key needed
   * (e.g. for a browser): signed with the sandbox's envd access token for this
   * path and user, through the port proxy's `49983-{sandboxId}.{domain}` host.
   * Anyone holding it can read the file until it expires (never, without
   * `useSignatureExpiration`).
   *
   * @example
   * ```ts
   * const url = await sandbox.files.downloadUrl("/home/user/report.pdf", { useSignatureExpiration: 600 });
   * const pdf = await fetch(url).then((r) => r.arrayBuffer());
   * ```
   */
  downloadUrl(path: string, options: FileUrlOptions = {}): Promise<string> {
    return signedFileUrl(this.envd.fileUrlTarget(), path, "read", options);
  }

  /**
   * A URL that writes `path` with a plain POST (multipart form or
   * `application/octet-stream` body), no header or API key needed; signed like
   * {@link downloadUrl} for the write operation.
   *
   * @example
   * ```ts
   * const url = await sandbox.files.uploadUrl("/home/user/data.csv", { useSignatureExpiration: 60 });
   * const form = new FormData();
   * form.append("file", new Blob(["a,b\n1,2\n"]), "data.csv");
   * await fetch(url, { method: "POST", body: form });
   * ```
   */
  uploadUrl(path: string, options: FileUrlOptions = {}): Promise<string> {
    return signedFileUrl(this.envd.fileUrlTarget(), path, "write", options);
  }

  /**
   * Watches a directory: `onEvent` is called for every change until `stop()`.
   * Answers once the watch is established, so changes made after it are seen.
   *
   * @example
   * ```ts
   * const watch = await sandbox.files.watchDir("/home/user", (e) => console.log(e.type, e.name), {
   *   recursive: true,
   * });
   * await sandbox.files.write("/home/user/new.txt", "x"); // → create new.txt, write new.txt
   * await watch.stop();
   * ```
   */
  async watchDir(
    path: string,
    onEvent: (event: FilesystemEvent) => void | Promise<void>,
    options: WatchOptions = {},
  ): Promise<WatchHandle> {
    const rpc = await this.envd.rpc();
    const abort = new AbortController();
    const stream = rpc.filesystem.watchDir(
      { path, recursive: options.recursive ?? false },
      { headers: this.envd.userHeaders(options.user), signal: abort.signal },
    );
    const events = stream[Symbol.asyncIterator]();
    // Bounded: a watch that never starts must not hang the caller.
    let startTimedOut = false;
    const startTimer = setTimeout(() => {
      startTimedOut = true;
      abort.abort();
    }, WATCH_START_TIMEOUT_MS);
    try {
      for (;;) {
        const first = await events.next();
        if (first.done)
          throw new SandboxError(`watch ${path}: envd closed the stream before the watch started`);
        if (first.value.event.case === "start") break;
      }
    } catch (err) {
      abort.abort();
      if (startTimedOut) {
        throw new TimeoutError(`watch ${path}: not started within ${WATCH_START_TIMEOUT_MS} ms`, {
          cause: err,
        });
      }
      throw errorFromConnect(err, `watch ${path}`);
    } finally {
      clearTimeout(startTimer);
    }
    const timer =
      options.timeoutMs && options.timeoutMs > 0
        ? setTimeout(() => abort.abort(), options.timeoutMs)
        : undefined;
    const done = (async () => {
      let failure: Error | undefined;
      try {
        for (;;) {
          const next = await events.next();
          if (next.done) break;
          const event = next.value.event;
          if (event.case !== "filesystem") continue;
          const type = eventTypeOf(event.value.type, rpc);
          if (type) await onEvent({ name: event.value.name, type });
        }
      } catch (err) {
        if (!abort.signal.aborted) failure = errorFromConnect(err, `watch ${path}`);
      } finally {
        if (timer) clearTimeout(timer);
      }
      options.onExit?.(failure);
    })();
    return {
      async stop() {
        abort.abort();
        // The stream's reader ends on abort; never wait on a connection that does not notice.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          done,
          new Promise<void>((resolve) => (timer = setTimeout(resolve, WATCH_STOP_WAIT_MS))),
        ]);
        clearTimeout(timer);
      },
    };
  }
}
