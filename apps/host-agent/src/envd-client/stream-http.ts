import { request as httpRequest, type IncomingMessage } from "node:http";
import type { EnvdClient } from "./client.ts";

/** Options of {@link envdStreamRequest}. */
export interface EnvdStreamRequestOptions {
  /** Sent with backpressure (each chunk waits for the socket to drain); none means an empty body. */
  body?: AsyncIterable<Uint8Array> | undefined;
  /** Added to the access-token header. */
  headers?: Record<string, string> | undefined;
  /** Longest silence on the socket (not a limit on the whole transfer, which may take minutes). */
  idleTimeoutMs: number;
  /** Aborting destroys the request (envd sees a broken-off upload or download). */
  signal?: AbortSignal | undefined;
}

/**
 * One HTTP exchange with envd that never holds a whole file: the request body
 * is pumped chunk by chunk, waiting for `drain`, and the response is resolved
 * as soon as its status line arrives, with the body left for the caller to
 * pull (a caller that stops pulling stops envd through TCP flow control).
 *
 * When `body` throws (the caller's own upstream broke off), the request is
 * destroyed with that error rather than ended, so envd never sees a short
 * upload as a complete one. The caller must consume or `destroy()` the response.
 */
export function envdStreamRequest(
  envd: EnvdClient,
  method: string,
  path: string,
  options: EnvdStreamRequestOptions,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: envd.host,
        port: envd.port,
        method,
        path,
        headers: { ...envd.headers(), ...options.headers },
        timeout: options.idleTimeoutMs,
        agent: false,
        signal: options.signal,
      },
      resolve,
    );
    req.on("timeout", () => req.destroy(new Error(`envd ${method} ${path.split("?")[0]} went silent`)));
    req.on("error", reject);
    if (!options.body) {
      req.end();
      return;
    }
    const body = options.body;
    void (async () => {
      try {
        for await (const chunk of body) {
          if (req.destroyed) return;
          if (!req.write(chunk)) await drained(req);
        }
        req.end();
      } catch (err) {
        req.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    })();
  });
}

/** Resolves on `drain`; rejects when the request closes first (envd answered early or the socket broke). */
function drained(req: ReturnType<typeof httpRequest>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      req.off("close", onClose);
      resolve();
    };
    const onClose = () => {
      req.off("drain", onDrain);
      reject(new Error("envd closed the upload"));
    };
    req.once("drain", onDrain);
    req.once("close", onClose);
  });
}
