import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { errors } from "@wrenn/common";
import type { hostagent } from "@wrenn/proto";
import type { EnvdClient } from "../envd-client/client.ts";
import { envdStreamRequest } from "../envd-client/stream-http.ts";
import { envdHttpError, filesPath, toFileEntry } from "./guest.ts";

/** Default and largest chunk of a StreamReadFile answer. */
export const DEFAULT_READ_CHUNK_BYTES = 64 * 1024;
const MAX_READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** A transfer may take minutes; only this much silence from envd ends it. */
const ENVD_IDLE_TIMEOUT_MS = 120_000;

/** An error answer's body is read up to this size (it is a short JSON message). */
const ERROR_BODY_MAX_BYTES = 64 * 1024;

/** Prefix of the hidden file an upload is written to before it replaces the target. */
export const UPLOAD_TEMP_MARKER = ".wrenn-upload-";

/**
 * The hidden temporary file beside `path` that an upload goes to: same
 * directory, so the final rename is atomic and never crosses filesystems.
 */
export function uploadTempPath(path: string): string {
  const slash = path.lastIndexOf("/");
  const name = path.slice(slash + 1);
  if (!name || name === "." || name === ".." || name === "~") {
    throw errors.invalidArgument("path must name a file");
  }
  // Keep the temporary name within NAME_MAX (255) however long the target's name is.
  return `${path.slice(0, slash + 1)}.${name.slice(0, 160)}${UPLOAD_TEMP_MARKER}${randomBytes(6).toString("hex")}`;
}

async function readSmallBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < ERROR_BODY_MAX_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_MAX_BYTES);
}

/**
 * Streams a guest file out of envd's `GET /files` in chunks of at most
 * `chunkBytes` (0: {@link DEFAULT_READ_CHUNK_BYTES}). Nothing is buffered: the
 * next chunk is read from envd only when the consumer asks for it. A body that
 * ends short of envd's Content-Length is an error, never a quietly short file.
 */
export async function* readFileStream(
  envd: EnvdClient,
  path: string,
  user: string,
  chunkBytes: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const chunk = Math.min(chunkBytes || DEFAULT_READ_CHUNK_BYTES, MAX_READ_CHUNK_BYTES);
  const cancelled = () => new ConnectError(`the download of ${path} was cancelled`, Code.Canceled);
  const res = await envdStreamRequest(envd, "GET", filesPath(path, user), {
    idleTimeoutMs: ENVD_IDLE_TIMEOUT_MS,
    signal,
  }).catch((err) => {
    throw signal?.aborted ? cancelled() : err;
  });
  try {
    const status = res.statusCode ?? 0;
    if (status !== 200) throw envdHttpError(status, await readSmallBody(res));
    const expected = res.headers["content-length"] ? Number(res.headers["content-length"]) : undefined;
    let received = 0;
    for await (const data of res as AsyncIterable<Buffer>) {
      received += data.length;
      for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
    }
    if (expected !== undefined && received !== expected) {
      throw new ConnectError(`envd sent ${received} of ${expected} bytes of ${path}`, Code.Unavailable);
    }
  } catch (err) {
    throw signal?.aborted ? cancelled() : err;
  } finally {
    res.destroy();
  }
}

/**
 * Streams `chunks` into a guest file without holding it: envd writes them to
 * a hidden temporary file beside `path` (raw octet-stream `POST /files`), and
 * only after the last byte arrived is that file renamed over `path`. An upload
 * that breaks off (the caller's stream throws, `signal` aborts, envd fails)
 * removes the temporary file and throws, so the old file, or none, stays in
 * place rather than a truncated one.
 */
export async function writeFileStream(
  envd: EnvdClient,
  path: string,
  user: string,
  chunks: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
) {
  filesPath(path, user);
  const temp = uploadTempPath(path);
  const headers = envd.headers(user);
  const upstream = endOnFailure(chunks, signal);
  try {
    // When the caller breaks off, the request to envd is ended rather than cut: envd then
    // finishes with the temporary file and answers before it is removed below. Cutting the
    // connection instead races envd, which may still be opening the file when the removal runs.
    const res = await envdStreamRequest(envd, "POST", filesPath(temp, user), {
      body: upstream.chunks,
      headers: { "content-type": "application/octet-stream" },
      idleTimeoutMs: ENVD_IDLE_TIMEOUT_MS,
    });
    const body = await readSmallBody(res);
    if (upstream.failure()) throw upstream.failure()?.error;
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw envdHttpError(status, body);
    await envd.filesystem.move({ source: temp, destination: path }, { headers, signal });
  } catch (err) {
    await envd.filesystem.remove({ path: temp }, { headers }).catch(() => {});
    // The caller went away: say so rather than report (and log) the broken pipe it caused.
    if (signal?.aborted) throw new ConnectError(`the upload to ${path} was cancelled`, Code.Canceled);
    throw err;
  }
  const stat = await envd.filesystem.stat({ path }, { headers });
  return toFileEntry(stat.entry);
}

/**
 * `chunks`, ending quietly (instead of throwing) when they throw or `signal`
 * aborts; `failure()` tells afterwards whether and why they ended early.
 */
function endOnFailure(
  chunks: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): { chunks: AsyncIterable<Uint8Array>; failure(): { error: unknown } | undefined } {
  let failure: { error: unknown } | undefined;
  async function* guarded(): AsyncGenerator<Uint8Array> {
    const it = chunks[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await nextOrAbort(it, signal);
        if (next === "aborted") {
          failure = { error: signal?.reason ?? new Error("aborted") };
          return;
        }
        if (next.done) return;
        yield next.value;
      }
    } catch (error) {
      failure = { error };
    }
  }
  return { chunks: guarded(), failure: () => failure };
}

/**
 * The iterator's next result, or "aborted" when `signal` fires first. One listener per
 * call, removed once settled: racing every chunk against one long-lived abort promise
 * would leave a reaction on it per chunk, each holding that chunk (the whole file).
 */
function nextOrAbort<T>(
  it: AsyncIterator<T>,
  signal: AbortSignal | undefined,
): Promise<IteratorResult<T> | "aborted"> {
  if (signal?.aborted) return Promise.resolve("aborted");
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (result) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Splits a StreamWriteFile request stream into its metadata (which must be the
 * first message, and the only one) and the chunks after it, pulled lazily so
 * the upload flows through at the pace envd takes it.
 */
export async function splitWriteStream(stream: AsyncIterable<hostagent.StreamWriteFileRequest>): Promise<{
  meta: hostagent.StreamWriteFileRequest_Metadata;
  chunks: AsyncIterable<Uint8Array>;
}> {
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done || first.value.payload.case !== "metadata") {
    throw errors.invalidArgument("the first message must carry metadata");
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      if (next.value.payload.case === "metadata") {
        throw errors.invalidArgument("metadata must be sent exactly once, first");
      }
      if (next.value.payload.case === "chunk") yield next.value.payload.value;
    }
  }
  return { meta: first.value.payload.value, chunks: chunks() };
}
