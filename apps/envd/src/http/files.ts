import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { chown, mkdir, stat } from "node:fs/promises";
import { dirname, extname, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { errors } from "@wrenn/common";
import { type FileOperation, requireFileAccess, usernameFromAuthorization } from "../auth.ts";
import { type EnvdContext, requestUser } from "../context.ts";
import { type FileMetadata, metadataFromHeaders } from "../file-metadata/xattr.ts";
import { requireReadable, requireWritableFile, requireWritableParent } from "../filesystem/access.ts";
import { resolveUserPath } from "../paths.ts";
import { noteTransientBytes } from "../transient-buffers.ts";
import type { UserAccount } from "../users.ts";
import { multipartBoundary, type PartSink, parseMultipart, partFilename } from "./multipart.ts";
import { type HttpRequest, type HttpResponse, header, sendJson } from "./respond.ts";

const contentTypes: Record<string, string> = {
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".xml": "application/xml",
  ".py": "text/x-python; charset=utf-8",
  ".sh": "text/x-shellscript; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".wasm": "application/wasm",
};

/** The Content-Type envd sends for a downloaded file (by extension, else octet-stream). */
export function contentTypeFor(path: string): string {
  return contentTypes[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** True when an Accept-Encoding header lists gzip with a non-zero quality. */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  for (const part of (acceptEncoding ?? "").split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding?.trim() !== "gzip") continue;
    const quality = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return quality === undefined || Number(quality.slice(2)) > 0;
  }
  return false;
}

interface FileRequest {
  rawPath: string;
  user: UserAccount;
}

function authorizeFileRequest(ctx: EnvdContext, req: HttpRequest, operation: FileOperation): FileRequest {
  const url = new URL(req.url ?? "/", "http://envd");
  const rawPath = url.searchParams.get("path") ?? "";
  const username = url.searchParams.get("username") ?? "";
  requireFileAccess(ctx.state, operation, {
    accessToken: header(req, "x-access-token"),
    signature: url.searchParams.get("signature") ?? undefined,
    signatureExpiration: url.searchParams.get("signature_expiration") ?? undefined,
    path: rawPath,
    username,
  });
  const user = requestUser(ctx, username || usernameFromAuthorization(header(req, "authorization")));
  return { rawPath, user };
}

/** `GET /files?path=&username=`: streams a file to the client. */
export async function downloadFile(ctx: EnvdContext, req: HttpRequest, res: HttpResponse): Promise<void> {
  const { rawPath, user } = authorizeFileRequest(ctx, req, "read");
  const path = resolveUserPath(rawPath, user, ctx.state.defaultWorkdir);
  const info = await requireReadable(path, user, ctx.users);
  if (info.isDirectory()) throw errors.invalidArgument(`'${path}' is a directory`);
  if (!info.isFile()) throw errors.invalidArgument(`'${path}' is not a regular file`);
  const name = encodeURIComponent(path.split(sep).pop() ?? "file");
  const gzip = acceptsGzip(header(req, "accept-encoding"));
  const headers: Record<string, string | number> = {
    "content-type": contentTypeFor(path),
    "content-disposition": `inline; filename*=UTF-8''${name}`,
    "last-modified": info.mtime.toUTCString(),
  };
  if (gzip) headers["content-encoding"] = "gzip";
  else headers["content-length"] = info.size;
  // Open before answering so a vanished file still becomes a proper error status.
  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  await new Promise<void>((resolve, reject) => {
    source.once("open", () => resolve());
    source.once("error", reject);
  });
  res.writeHead(200, headers);
  source.on("data", (chunk) => noteTransientBytes(chunk.length));
  try {
    if (gzip) await pipeline(source, createGzip({ level: 1 }), res as NodeJS.WritableStream);
    else await pipeline(source, res as NodeJS.WritableStream);
  } catch (err) {
    ctx.logger.debug({ err, path }, "download ended early");
    res.destroy();
  }
}

/** Creates the missing parent directories of `path`, owned by `user`. */
async function ensureParentDirectories(path: string, user: UserAccount): Promise<void> {
  const parent = dirname(path);
  const firstCreated = await mkdir(parent, { recursive: true });
  if (firstCreated === undefined) return;
  // chown every directory mkdir created, from the first one down to the parent.
  const created = [firstCreated];
  const rest = relative(firstCreated, parent);
  if (rest) {
    let dir = firstCreated;
    for (const part of rest.split(sep)) {
      dir = `${dir}${sep}${part}`;
      created.push(dir);
    }
  }
  for (const dir of created) await chown(dir, user.uid, user.gid);
}

class FileSink implements PartSink {
  private constructor(
    private readonly stream: WriteStream,
    private readonly failure: Promise<never>,
  ) {}

  static async open(path: string, user: UserAccount): Promise<FileSink> {
    const stream = createWriteStream(path, { mode: 0o644, highWaterMark: 1024 * 1024 });
    const failure = new Promise<never>((_, reject) => stream.once("error", reject));
    failure.catch(() => undefined);
    await Promise.race([new Promise((resolve) => stream.once("open", resolve)), failure]);
    await chown(path, user.uid, user.gid);
    return new FileSink(stream, failure);
  }

  async write(chunk: Buffer): Promise<void> {
    noteTransientBytes(chunk.length);
    if (!this.stream.write(chunk)) {
      await Promise.race([
        new Promise<void>((resolve) => this.stream.once("drain", () => resolve())),
        this.failure,
      ]);
    }
  }

  async end(): Promise<void> {
    await Promise.race([new Promise<void>((resolve) => this.stream.end(() => resolve())), this.failure]);
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** A file an upload wrote; `existed` when it overwrote one (whose old metadata must go). */
interface WrittenFile {
  path: string;
  existed: boolean;
}

async function openUploadTarget(
  ctx: EnvdContext,
  user: UserAccount,
  rawPath: string,
): Promise<[WrittenFile, FileSink]> {
  const path = resolveUserPath(rawPath, user, ctx.state.defaultWorkdir);
  // As E2B's envd: for the sandbox's default user (passwordless sudo in the images, as in E2B's)
  // missing parent directories are created, owned by the user, whoever owns the ancestor they
  // go under. Writing into an existing directory still needs write permission on it.
  const parentMissing = await stat(dirname(path)).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === "ENOENT",
  );
  if (!(parentMissing && user.name === ctx.state.defaultUser)) {
    await requireWritableParent(path, user, ctx.users);
  }
  await requireWritableFile(path, user, ctx.users);
  await ensureParentDirectories(path, user);
  const existed = await stat(path).then(
    () => true,
    () => false,
  );
  return [{ path, existed }, await FileSink.open(path, user)];
}

/**
 * Stores the request's metadata on each written file, as E2B's envd does: the
 * metadata replaces the file's, so an overwrite without metadata clears what an
 * earlier upload set (a truncating write keeps a file's xattrs). A new file with
 * no metadata needs nothing, so plain uploads never call the xattr helper.
 * Returns, per file, the metadata it now has (undefined where none was kept).
 */
async function storeMetadata(
  ctx: EnvdContext,
  written: WrittenFile[],
  metadata: FileMetadata | undefined,
): Promise<(FileMetadata | undefined)[]> {
  const stored: (FileMetadata | undefined)[] = [];
  for (const file of written) {
    if (metadata) {
      stored.push((await ctx.metadata.replace(file.path, metadata)) ? metadata : undefined);
      continue;
    }
    stored.push(undefined);
    if (file.existed) {
      await ctx.metadata.replace(file.path, {}).catch((err) => {
        // Clearing is best effort: a filesystem without xattrs has nothing stale to clear.
        ctx.logger.debug({ err, path: file.path }, "old file metadata not cleared");
      });
    }
  }
  return stored;
}

/**
 * `POST /files?path=&username=`: multipart (one or more `file` parts; the
 * part's filename is the path when `path` is absent) or a raw octet-stream
 * body; `Content-Encoding: gzip` is decoded on the fly. Parent directories are
 * created and everything written is owned by the chosen user.
 */
export async function uploadFiles(ctx: EnvdContext, req: HttpRequest, res: HttpResponse): Promise<void> {
  const { rawPath, user } = authorizeFileRequest(ctx, req, "write");
  // Validated before the body is read, so bad metadata is a 400 with nothing written.
  const metadata = metadataFromHeaders(req.rawHeaders);
  const encoding = (header(req, "content-encoding") ?? "identity").toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip") {
    throw errors.invalidArgument(`unsupported content encoding '${encoding}'`);
  }
  const body: AsyncIterable<Buffer> =
    encoding === "gzip"
      ? (req as NodeJS.ReadableStream).pipe(createGunzip())
      : (req as AsyncIterable<Buffer>);
  const contentType = header(req, "content-type") ?? "application/octet-stream";
  const written: WrittenFile[] = [];

  if (/^multipart\/form-data/i.test(contentType)) {
    let open: FileSink | undefined;
    try {
      await parseMultipart(body, multipartBoundary(contentType), async (partHeaders) => {
        const target = rawPath || partFilename(partHeaders);
        if (!target) {
          if (partFilename(partHeaders) === undefined) return undefined;
          throw errors.invalidArgument("path is required");
        }
        const [file, sink] = await openUploadTarget(ctx, user, target);
        written.push(file);
        open = sink;
        return sink;
      });
    } catch (err) {
      open?.destroy();
      throw err;
    }
    if (written.length === 0) throw errors.invalidArgument("no file in the multipart body");
  } else {
    if (!rawPath) throw errors.invalidArgument("path is required for an octet-stream upload");
    const [file, sink] = await openUploadTarget(ctx, user, rawPath);
    try {
      for await (const chunk of body) await sink.write(chunk);
      await sink.end();
    } catch (err) {
      sink.destroy();
      throw err;
    }
    written.push(file);
  }
  const stored = await storeMetadata(ctx, written, metadata);
  sendJson(
    res,
    200,
    written.map(({ path }, i) => ({
      path,
      name: path.split(sep).pop() ?? path,
      type: "file",
      metadata: stored[i],
    })),
  );
}
