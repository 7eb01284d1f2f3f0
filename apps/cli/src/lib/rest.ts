import { type HttpResponse, sendRequest } from "@wrenn/common/http-request";
import type { Credentials } from "./config.ts";

/**
 * A `{code, message}` error answer of the REST API. Only for the few routes the SDK has no method
 * for (see {@link apiRequest}); everything else goes through `@wrenn/sdk` and its typed errors.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One JSON request to the control plane with the team API key. Used for the routes `@wrenn/sdk`
 * does not cover (`GET /v1/me` for `wrenn login`); the SDK is the client for everything else.
 */
export async function apiRequest<T>(
  creds: Pick<Credentials, "apiUrl" | "apiKey">,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  let res: HttpResponse;
  try {
    // node:http, not fetch: fetch costs a command ~25 ms to load and ~150 ms of exit delay.
    res = await sendRequest(new URL(`${creds.apiUrl}${path}`), {
      method,
      headers: {
        "x-api-key": creds.apiKey,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    // Keep the socket error (ECONNREFUSED …) reachable for the exit-code table, and say where.
    Object.assign(err as object, { url: creds.apiUrl });
    throw err;
  }
  const { text } = res;
  if (res.status < 200 || res.status > 299) {
    let code = "internal";
    let message = `${method} ${path} answered HTTP ${res.status}`;
    try {
      const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
      if (typeof parsed.code === "string") code = parsed.code;
      if (typeof parsed.message === "string") message = parsed.message;
    } catch {
      // not our error body (a proxy's HTML page, say): keep the status line
    }
    throw new ApiError(res.status, code, message);
  }
  try {
    return (text ? JSON.parse(text) : undefined) as T;
  } catch {
    throw new ApiError(
      res.status,
      "internal",
      `${method} ${path}: the answer is not JSON — is ${creds.apiUrl} a Wrenn API?`,
    );
  }
}
