import type { IncomingMessage } from "node:http";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";

/**
 * Answers with `Connection: close` whenever the response goes out before the request body was
 * read to its end (a body refused for its size, a 401 before any route read it, a route that never
 * reads bodies). The Node adapter only drains such a body for 500 ms and then destroys the socket
 * without a word, so a keep-alive client's next request on it died; told to close, the client
 * opens a new connection instead. Requests served in-process (tests, no socket) are left alone.
 */
export function closeIfBodyUnread(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming || incoming.complete || !declaresBody(incoming)) return;
    try {
      c.res.headers.set("connection", "close");
    } catch {
      // Immutable headers (a forwarded response): copy them into a response we may change.
      const res = new Response(c.res.body, c.res);
      res.headers.set("connection", "close");
      c.res = res;
    }
  };
}

function declaresBody(incoming: IncomingMessage): boolean {
  const length = incoming.headers["content-length"];
  return (length !== undefined && length !== "0") || incoming.headers["transfer-encoding"] !== undefined;
}
