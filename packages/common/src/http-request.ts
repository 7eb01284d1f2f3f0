import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";

/** One buffered HTTP exchange: what {@link sendRequest} sends. */
export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  /** The whole body (UTF-8), or none. */
  body?: string | undefined;
  /** Aborting rejects with the signal's reason, as `fetch` does. */
  signal?: AbortSignal | undefined;
}

/** A buffered answer: status and the body decoded as UTF-8. */
export interface HttpResponse {
  status: number;
  text: string;
}

/** Redirects followed before giving up (fetch's limit). */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

type RequestFn = (
  url: URL,
  options: RequestOptions,
  onResponse: (res: IncomingMessage) => void,
) => ReturnType<typeof httpRequest>;

/** `node:https` only for https URLs: loading TLS costs a plain-HTTP command start-up for nothing. */
async function requestFn(url: URL): Promise<RequestFn> {
  if (url.protocol === "https:") return (await import("node:https")).request;
  if (url.protocol === "http:") return httpRequest;
  throw new TypeError(`unsupported protocol ${url.protocol}`);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** One request/answer without following redirects; the body is read whole. */
async function exchange(
  url: URL,
  req: HttpRequest,
): Promise<HttpResponse & { location?: string | undefined }> {
  const send = await requestFn(url);
  const { signal } = req;
  if (signal?.aborted) throw abortReason(signal);
  return new Promise((resolve, reject) => {
    let onAbort = () => {};
    const settle = (fn: () => void) => {
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const outgoing = send(url, { method: req.method, headers: req.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (err) => settle(() => reject(err)));
      res.on("end", () =>
        settle(() =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8"),
            location: res.headers.location,
          }),
        ),
      );
    });
    onAbort = () => {
      const reason = abortReason(signal as AbortSignal);
      outgoing.destroy();
      settle(() => reject(reason));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    outgoing.on("error", (err) => settle(() => reject(err)));
    outgoing.end(req.body);
  });
}

/**
 * Sends one request with `node:http(s)` and reads the whole answer, with fetch's semantics for
 * what the REST client relies on: redirects followed (303, and 301/302 after a POST, turn into
 * a GET without body), an abort rejects with the signal's reason (an `AbortError` by default)
 * at any point until the body is read, a socket failure rejects with Node's error (its `code`:
 * `ECONNREFUSED`…). Why not `fetch`: Node's fetch (undici) costs a command-line tool ~25 ms to
 * load on the first request and keeps the process alive ~150 ms after the answer; `node:http`
 * needs neither, and its kept-alive sockets do not hold the process open.
 */
export async function sendRequest(url: URL, req: HttpRequest): Promise<HttpResponse> {
  let current = url;
  let { method, body } = req;
  let headers = req.headers;
  for (let redirects = 0; ; redirects++) {
    const res = await exchange(current, { ...req, method, headers, body });
    if (!REDIRECTS.has(res.status) || res.location === undefined)
      return { status: res.status, text: res.text };
    if (redirects === MAX_REDIRECTS) throw new TypeError(`redirect count exceeded (${MAX_REDIRECTS})`);
    current = new URL(res.location, current);
    if (
      res.status === 303 ? method !== "HEAD" : (res.status === 301 || res.status === 302) && method === "POST"
    ) {
      method = "GET";
      body = undefined;
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => k.toLowerCase() !== "content-type"),
      );
    }
  }
}
