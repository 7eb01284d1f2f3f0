import { session } from "../auth/session.ts";

/**
 * An API failure carrying the control plane's `{code, message}`. Network failures get code
 * `network`, bodies that are not the API's error shape get `unavailable`/`internal` by status.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Query-string values; undefined and empty strings are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** Options of {@link api}. */
export interface RequestOptions {
  query?: Query;
  /** Sent as JSON unless it is a Blob/FormData/ArrayBuffer. */
  body?: unknown;
  signal?: AbortSignal;
  /** Extra headers (the Authorization header is added from the session). */
  headers?: Record<string, string>;
  /** Ask for a Response instead of parsed JSON (downloads). */
  raw?: boolean;
}

let origin = "";

/** Sends requests to another origin than the page's (Node tests; the app always uses its own). */
export function setApiOrigin(value: string): void {
  origin = value.replace(/\/$/, "");
}

/** Builds `/v1/...?a=b` from a path and query, dropping empty values. */
export function buildUrl(path: string, query?: Query): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === "") continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** Turns a non-2xx response into an {@link ApiError}, keeping the server's code and message. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (body && typeof body === "object" && "code" in body && "message" in body) {
    const { code, message, ...details } = body as { code: unknown; message: unknown };
    return new ApiError(res.status, String(code), String(message), details);
  }
  const code = res.status >= 500 ? (res.status === 503 ? "unavailable" : "internal") : "invalid";
  return new ApiError(res.status, code, `The server answered ${res.status} ${res.statusText}`.trim());
}

/** The Authorization header for the current session (empty when signed out). */
export function authHeaders(): Record<string, string> {
  const t = session.token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/**
 * Calls the control plane's REST API with the session's JWT. A 401 ends the session (the router
 * then sends the user to the login page); every other failure throws an {@link ApiError}.
 */
export async function api<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...authHeaders(), ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    if (opts.body instanceof Blob || opts.body instanceof FormData || opts.body instanceof ArrayBuffer) {
      body = opts.body;
    } else {
      body = JSON.stringify(opts.body);
      headers["content-type"] = "application/json";
    }
  }
  let res: Response;
  try {
    res = await fetch(origin + buildUrl(path, opts.query), {
      method,
      headers,
      body,
      signal: opts.signal ?? null,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "network", "Cannot reach the Wrenn server. Check your connection and try again.");
  }
  if (res.status === 401 && headers.authorization) session.signOut();
  if (!res.ok) throw await errorFromResponse(res);
  if (opts.raw) return res as unknown as T;
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A readable sentence for any thrown value (ApiError's server message, or a generic fallback). */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong.";
}
