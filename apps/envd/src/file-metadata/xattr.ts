import { type ChildProcess, spawn } from "node:child_process";
import { errors, type Logger } from "@wrenn/common";

/**
 * The extended-attribute namespace file metadata lives under, as in E2B's envd:
 * `user.` is the namespace unprivileged processes may use, `e2b.` keeps these keys
 * apart from other tools' `user.*` attributes, so `getfattr -d` in the sandbox shows
 * the same names on Wrenn and on E2B.
 */
export const METADATA_XATTR_PREFIX = "user.e2b.";
/** The kernel caps an attribute name at 255 bytes, prefix included. */
export const MAX_METADATA_KEY_LENGTH = 255 - METADATA_XATTR_PREFIX.length;
/** All of one file's metadata (prefixed names and values) must fit one ext4 block. */
export const MAX_METADATA_TOTAL_LENGTH = 4096;
/** Request headers that carry metadata on `POST /files` (the E2B SDK's `X-Metadata-<key>`). */
export const METADATA_HEADER_PREFIX = "x-metadata-";

/** One file's metadata: key to value, both printable US-ASCII. */
export type FileMetadata = Record<string, string>;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Throws invalid_argument (400) for metadata E2B's envd refuses, before any file is touched. */
export function validateMetadata(metadata: FileMetadata): void {
  let total = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (key === "") throw errors.invalidArgument("metadata key must not be empty");
    if (key.length > MAX_METADATA_KEY_LENGTH) {
      throw errors.invalidArgument(`metadata key '${key}' is longer than ${MAX_METADATA_KEY_LENGTH} bytes`);
    }
    if (!PRINTABLE_ASCII.test(key)) throw errors.invalidArgument("metadata keys must be printable US-ASCII");
    if (!PRINTABLE_ASCII.test(value)) {
      throw errors.invalidArgument(`metadata value for key '${key}' must be printable US-ASCII`);
    }
    total += METADATA_XATTR_PREFIX.length + key.length + value.length;
  }
  if (total > MAX_METADATA_TOTAL_LENGTH) {
    throw errors.invalidArgument(`metadata totals ${total} bytes, more than ${MAX_METADATA_TOTAL_LENGTH}`);
  }
}

/**
 * The metadata in a request's `X-Metadata-<key>` headers (keys lower-cased, as header
 * names are case-insensitive; the first of repeated headers wins; an empty key is
 * dropped), validated. Undefined when the request carries none.
 */
export function metadataFromHeaders(rawHeaders: readonly string[]): FileMetadata | undefined {
  let metadata: FileMetadata | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? "").toLowerCase();
    if (!name.startsWith(METADATA_HEADER_PREFIX)) continue;
    const key = name.slice(METADATA_HEADER_PREFIX.length);
    if (key === "") continue;
    metadata ??= {};
    if (!(key in metadata)) metadata[key] = rawHeaders[i + 1] ?? "";
  }
  if (metadata) validateMetadata(metadata);
  return metadata;
}

/**
 * The helper's program: one JSON request per line in, one JSON answer per line out.
 * `get` reads the `user.e2b.*` attributes of many paths (null for a path that is gone
 * or on a filesystem without xattrs; values that are not UTF-8, set by hand in the
 * sandbox, are skipped); `set` replaces a file's `user.e2b.*` attributes with the given
 * ones (stale keys removed: an overwrite keeps a file's xattrs).
 */
const HELPER_SOURCE = `
import sys, os, json
P = ${JSON.stringify(METADATA_XATTR_PREFIX)}
def get(path):
    try:
        names = os.listxattr(path)
    except OSError:
        return None
    out = {}
    for name in names:
        if not name.startswith(P):
            continue
        try:
            out[name[len(P):].encode("utf-8").decode("utf-8")] = os.getxattr(path, name).decode("utf-8")
        except (OSError, UnicodeError):
            pass
    return out
def put(path, meta):
    for name in os.listxattr(path):
        if name.startswith(P) and name[len(P):] not in meta:
            try:
                os.removexattr(path, name)
            except OSError:
                pass
    for key, value in meta.items():
        os.setxattr(path, P + key, value.encode("utf-8"))
for line in sys.stdin:
    try:
        req = json.loads(line)
        if req["op"] == "get":
            res = {"ok": True, "result": [get(p) for p in req["paths"]]}
        else:
            put(req["path"], req["metadata"])
            res = {"ok": True}
    except OSError as e:
        import errno
        res = {"ok": False, "code": errno.errorcode.get(e.errno, ""), "error": e.strerror or str(e)}
    except Exception as e:
        res = {"ok": False, "code": "", "error": str(e)}
    sys.stdout.write(json.dumps(res) + "\\n")
    sys.stdout.flush()
`;

interface HelperAnswer {
  ok: boolean;
  result?: (FileMetadata | null)[];
  code?: string;
  error?: string;
}

interface Waiter {
  resolve(answer: HelperAnswer): void;
  reject(err: Error): void;
}

/**
 * Reads and writes file metadata as user extended attributes. Node has no xattr API,
 * so one small `python3` helper (os.getxattr/setxattr/listxattr) is started on first
 * use and kept: a read of a whole directory's metadata is one line over a pipe, not
 * a fork per file. Without python3 in the guest no metadata is read or kept (writes
 * still succeed, their answer shows none).
 */
export class FileMetadataStore {
  private helper: ChildProcess | undefined;
  private missing = false;
  private readonly waiters: Waiter[] = [];
  private received = "";

  constructor(
    private readonly logger: Logger,
    private readonly python = "python3",
  ) {}

  /** The metadata of each path, in order (undefined: none, or unreadable). */
  async read(paths: readonly string[]): Promise<(FileMetadata | undefined)[]> {
    if (paths.length === 0) return [];
    let answer: HelperAnswer;
    try {
      answer = await this.request({ op: "get", paths });
    } catch (err) {
      this.logger.debug({ err }, "file metadata not read");
      return paths.map(() => undefined);
    }
    return paths.map((_, i) => {
      const found = answer.result?.[i];
      return found && Object.keys(found).length > 0 ? found : undefined;
    });
  }

  /**
   * Replaces the metadata of the file at `path` (an empty map clears it). False when the
   * file's filesystem has no user xattrs (tmpfs before Linux 6.6, /proc) or there is no
   * helper: as E2B's envd, that is not the request's failure, the metadata is just not kept.
   */
  async replace(path: string, metadata: FileMetadata): Promise<boolean> {
    let answer: HelperAnswer;
    try {
      answer = await this.request({ op: "set", path, metadata });
    } catch (err) {
      // No python3 in this image (or the helper died): like a filesystem without xattrs.
      this.logger.warn(
        { path, message: (err as Error).message },
        "file metadata not stored: no xattr helper",
      );
      return false;
    }
    if (answer.ok) return true;
    if (answer.code === "ENOTSUP" || answer.code === "EOPNOTSUPP") {
      this.logger.info({ path }, "file metadata not stored: the filesystem has no user xattrs");
      return false;
    }
    if (answer.code === "ENOSPC" || answer.code === "E2BIG" || answer.code === "ERANGE") {
      throw errors.invalidArgument(`metadata does not fit on '${path}': ${answer.error}`);
    }
    throw errors.internal("storing file metadata failed", new Error(`${answer.code} ${answer.error}`));
  }

  /** Ends the helper. */
  close(): void {
    const child = this.helper;
    this.helper = undefined;
    child?.kill();
  }

  private request(body: unknown): Promise<HelperAnswer> {
    const child = this.ensureHelper();
    if (!child?.stdin?.writable) return Promise.reject(new Error("python3 is not available"));
    return new Promise<HelperAnswer>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      child.stdin?.write(`${JSON.stringify(body)}\n`);
    });
  }

  private ensureHelper(): ChildProcess | undefined {
    if (this.helper || this.missing) return this.helper;
    let child: ChildProcess;
    try {
      child = spawn(this.python, ["-I", "-S", "-u", "-c", HELPER_SOURCE], {
        stdio: ["pipe", "pipe", "ignore"],
      });
    } catch (err) {
      this.logger.warn({ err }, "xattr helper did not start; file metadata is off");
      this.missing = true;
      return undefined;
    }
    this.helper = child;
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => this.onOutput(chunk));
    // A write to a helper that just died must not take envd down.
    child.stdin?.on("error", () => undefined);
    const gone = (err?: Error) => {
      if (this.helper === child) this.helper = undefined;
      this.received = "";
      for (const w of this.waiters.splice(0)) w.reject(err ?? new Error("xattr helper exited"));
    };
    child.once("error", (err: NodeJS.ErrnoException) => {
      // No python3 in this image: stop trying (a helper that merely died is restarted on next use).
      if (err.code === "ENOENT") this.missing = true;
      this.logger.warn({ code: err.code, message: err.message }, "xattr helper failed");
      gone(err);
    });
    child.once("exit", () => gone());
    // The helper must never keep envd (or a test process) alive on its own.
    child.unref();
    for (const s of [child.stdin, child.stdout]) (s as { unref?: () => void } | null)?.unref?.();
    return child;
  }

  private onOutput(chunk: string): void {
    this.received += chunk;
    for (let nl = this.received.indexOf("\n"); nl >= 0; nl = this.received.indexOf("\n")) {
      const line = this.received.slice(0, nl);
      this.received = this.received.slice(nl + 1);
      const waiter = this.waiters.shift();
      try {
        waiter?.resolve(JSON.parse(line) as HelperAnswer);
      } catch (err) {
        waiter?.reject(err as Error);
      }
    }
  }
}
