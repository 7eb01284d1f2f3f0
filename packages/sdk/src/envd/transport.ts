import { deadlineSignal } from "../client/http.ts";
import { errorFromHttp, SandboxError, TimeoutError } from "../errors.ts";
import { abortableBody } from "./abortable-body.ts";
import type { FileUrlTarget } from "./file-urls.ts";
import type { EnvdRpc } from "./rpc.ts";

/** The port envd listens on inside every sandbox. */
export const ENVD_PORT = 49983;

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
 * The connection to one sandbox's envd through the control plane's port proxy (Connect RPCs
 * through {@link EnvdConnection.rpc}, plain HTTP for `/files`): every request carries
 * `E2b-Sandbox-Id` / `E2b-Sandbox-Port` (the proxy routes on them) and `X-Access-Token` (envd
 * checks it). The API key is never sent here: these requests end up inside the sandbox.
 */
export class EnvdConnection {
  private rpcLoad: Promise<EnvdRpc> | undefined;

  constructor(readonly endpoint: EnvdEndpoint) {}

  /**
   * The Connect clients of `process.Process` and `filesystem.Filesystem` (with the generated
   * values that go with them), loaded on the first call: a program that never talks to envd
   * never loads Connect or the generated protobuf code ({@link envdRpc}).
   */
  rpc(): Promise<EnvdRpc> {
    this.rpcLoad ??= import("./rpc.ts").then(
      (m) => m.envdRpc(this.endpoint.apiUrl, () => this.routingHeaders()),
      (err: unknown) => {
        this.rpcLoad = undefined; // a failed load (a broken install) is retried by the next call
        throw err;
      },
    );
    return this.rpcLoad;
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
