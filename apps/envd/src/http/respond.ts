import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "@wrenn/common";
import { errors } from "@wrenn/common";
import { httpStatusOf, toWrennError } from "../errors.ts";

/** A request from either the HTTP/1.1 or the h2c side of the server. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** A response on either protocol. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/** First value of a request header. */
export function header(req: HttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Sends `body` as JSON with the given status. */
export function sendJson(res: HttpResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Answers with E2B's error body `{code, message}` (code is the HTTP status, as
 * in envd's OpenAPI spec). Internal causes are logged, never sent.
 */
export function sendError(res: HttpResponse, err: unknown, logger: Logger, subject?: string): void {
  const wrenn = toWrennError(err, logger, subject);
  const status = httpStatusOf(wrenn);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { code: status, message: wrenn.message });
}

/** Reads a small request body (JSON bodies of /init), refusing more than `limit` bytes. */
export async function readSmallBody(req: HttpRequest, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw errors.invalidArgument("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
