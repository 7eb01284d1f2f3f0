import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { Filesystem, Process } from "@wrenn/proto";
import { deadlineSignal } from "../client/http.ts";
import { errorFromHttp, SandboxError, TimeoutError } from "../errors.ts";
import { abortableBody } from "./abortable-body.ts";
import type { FileUrlTarget } from "./file-urls.ts";

/** The port envd listens on inside every sandbox. */
export const ENVD_PORT = 49983;

/** Seconds between the keepalive events envd sends on long streams (proxies drop idle ones). */
const KEEPALIVE_SECONDS = 30;

/** Where a sandbox's envd is reached and with which token. */
export interface EnvdEndpoint {
  /** Control plane base URL (its port proxy forwards to the sandbox). */
  apiUrl: string;
  sandboxId: string;
  /** `envd_access_token` of the sandbox (from create/resume). */
  accessToken?: string | undefined;
  /** Domain of the proxy's host names (`{port}-{sandboxId}.{domain}`). Default: the API URL's host. */
  domain?: string | undefined;
}

/** `Authorization` value that picks the user a request runs as (envd's convention). */
export function basicUser(user: string): string {
  return `Basic ${btoa(`${user}:`)}`;
}

/**
 * fetch for the Connect transport. A refusal by the port proxy (401 bad token,
 * 404 unknown sandbox, 409 paused, 503 host down) is a plain `{code, message}`
 * answer the Connect client would report only as a bare HTTP status on
 * streaming calls; it becomes the typed error here (the transport keeps it as
 * the cause, and {@link errorFromConnect} unwraps it). Aborting the call's signal
 * always ends the response body ({@link abortableBody}): streams stop on `stop()`/kill.
 */
async function typedErrorFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const res = await globalThis.fetch(input, init);
  if (res.ok || !(res.headers.get("content-type") ?? "").includes("json")) {
    return abortableBody(res, init?.signal);
  }
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  throw errorFromHttp(res.status, await res.text(), url.pathname.slice(1));
}

/**
 * The connection to one sandbox's envd through the control plane's port
 * proxy: every request carries `E2b-Sandbox-Id` / `E2b-Sandbox-Port` (the proxy
 * routes on them) and `X-Access-Token` (envd checks it). The API key is never
 * sent here: these requests end up inside the sandbox.
 */
export class EnvdConnection {
  /** Connect client of `process.Process`. */
  readonly process: Client<typeof Process>;
  /** Connect client of `filesystem.Filesystem`. */
  readonly filesystem: Client<typeof Filesystem>;

  constructor(readonly endpoint: EnvdEndpoint) {
    const routing: Interceptor = (next) => async (req) => {
      for (const [key, value] of Object.entries(this.routingHeaders())) req.header.set(key, value);
      if (req.stream) req.header.set("keepalive-ping-interval", String(KEEPALIVE_SECONDS));
      return next(req);
    };
    const transport = createConnectTransport({
      baseUrl: endpoint.apiUrl,
      interceptors: [routing],
      fetch: typedErrorFetch,
    });
    this.process = createClient(Process, transport);
    this.filesystem = createClient(Filesystem, transport);
  }

  /** Headers that route a request to this sandbox's envd. */
  routingHeaders(): Record<string, string> {
    const headers: Record<string, string> = {
      "e2b-sandbox-id": this.endpoint.sandboxId,
      "e2b-sandbox-port": String(ENVD_PORT),
    };
    if (this.endpoint.accessToken) headers["x-access-token"] = this.endpoint.accessToken;
    return headers;
  }

  /** Where signed `/files` URLs point: envd's proxy host name and the key they are signed with. */
  fileUrlTarget(): FileUrlTarget {
    const api = new URL(this.endpoint.apiUrl);
    return {
      protocol: api.protocol,
      envdHost: `${ENVD_PORT}-${this.endpoint.sandboxId}.${this.endpoint.domain ?? api.host}`,
      accessToken: this.endpoint.accessToken,
    };
  }

  /** Per-call headers choosing the user (envd's default user when absent). */
  userHeaders(user: string | undefined): Record<string, string> {
    return user ? { authorization: basicUser(user) } : {};
  }

  /**
   * A plain HTTP request to envd (its `/files` endpoint); failed answers become
   * typed errors, network failures `SandboxError`, the timeout (until the answer
   * starts) `TimeoutError`.
   */
  async fetch(
    path: string,
    init: RequestInit & { timeoutMs?: number | undefined; query?: Record<string, string | undefined> },
  ): Promise<Response> {
    const url = new URL(`${this.endpoint.apiUrl}${path}`);
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const timeoutMs = init.timeoutMs ?? 0;
    const deadline = deadlineSignal(timeoutMs, init.signal ?? undefined);
    const headers = new Headers(init.headers);
    for (const [key, value] of Object.entries(this.routingHeaders())) headers.set(key, value);
    let res: Response;
    try {
      res = await globalThis.fetch(url, {
        ...init,
        headers,
        signal: deadline.signal ?? null,
        ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (err) {
      deadline.clear();
      if (deadline.timedOut())
        throw new TimeoutError(`${path} timed out after ${timeoutMs} ms`, { cause: err });
      if (err instanceof Error && err.name === "AbortError") throw err;
      throw new SandboxError(`cannot reach the sandbox's envd: ${(err as Error).message}`, {
        code: "unavailable",
        cause: err,
      });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      deadline.clear();
      throw errorFromHttp(res.status, text, `${init.method ?? "GET"} ${path}`);
    }
    // The timeout covers waiting for the answer; a streamed body is the caller's to read
    // (and ends when the caller's signal aborts).
    deadline.clear();
    return abortableBody(res, init.signal);
  }
}
