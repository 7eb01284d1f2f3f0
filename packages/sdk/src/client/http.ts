import { type HttpResponse, sendRequest } from "@wrenn/common/http-request";
import type { ConnectionConfig } from "../config.ts";
import { errorFromHttp, SandboxError, TimeoutError, type WrennError } from "../errors.ts";

/** Per-request options of the REST client. */
export interface RequestOptions {
  /** JSON body (sent with `Content-Type: application/json`). */
  body?: unknown;
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | undefined>;
  /** Aborts the request. */
  signal?: AbortSignal | undefined;
  /** Overrides the configured request timeout (ms, 0 = none). */
  timeoutMs?: number | undefined;
}

/**
 * Combines a caller's signal with a timeout into one signal; `timedOut()`
 * tells afterwards whether the timeout (not the caller) fired.
 */
export function deadlineSignal(
  timeoutMs: number,
  signal?: AbortSignal,
): { signal: AbortSignal | undefined; timedOut: () => boolean; clear: () => void } {
  if (!timeoutMs) return { signal, timedOut: () => false, clear: () => {} };
  const controller = new AbortController();
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    controller.abort(new Error(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => fired,
    clear: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** Maps a request failure (network, abort, timeout) to a typed error. */
function requestFailure(
  err: unknown,
  what: string,
  timedOut: boolean,
  timeoutMs: number,
): WrennError | unknown {
  if (timedOut) return new TimeoutError(`${what} timed out after ${timeoutMs} ms`, { cause: err });
  if (err instanceof Error && err.name === "AbortError") return err;
  const reason =
    err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
  return new SandboxError(`${what}: cannot reach the control plane: ${reason}`, {
    code: "unavailable",
    cause: err,
  });
}

/**
 * The REST client of the control plane: `X-API-Key` on every request, JSON in
 * and out, one error mapping ({@link errorFromHttp}), a timeout per request
 * (until the whole answer is read). Sent with `node:http(s)` ({@link sendRequest}).
 */
export class ApiClient {
  constructor(readonly config: ConnectionConfig) {}

  /** Sends a request and answers the parsed JSON body (`undefined` for 204). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.config.apiUrl}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { "x-api-key": this.config.apiKey, accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const timeoutMs = options.timeoutMs ?? this.config.requestTimeoutMs;
    const deadline = deadlineSignal(timeoutMs, options.signal);
    const what = `${method} ${path}`;
    try {
      let res: HttpResponse;
      try {
        res = await sendRequest(url, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: deadline.signal,
        });
      } catch (err) {
        throw requestFailure(err, what, deadline.timedOut(), timeoutMs);
      }
      const { status, text } = res;
      if (status < 200 || status > 299) throw errorFromHttp(status, text, what);
      if (status === 204 || text === "") return undefined as T;
      return JSON.parse(text) as T;
    } finally {
      deadline.clear();
    }
  }
}
