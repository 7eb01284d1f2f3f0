import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@wrenn/common";

/**
 * Takes an HTTP upgrade (WebSocket) request if it is this handler's to serve and
 * answers `true`; answers `false` to let the next handler look at it. A handler that
 * claims a request owns the socket from then on (it must write a response or destroy it).
 */
export type UpgradeHandler = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
) => boolean | Promise<boolean>;

/**
 * The control plane's upgrade handlers, in registration order. Hono's fetch-based
 * routing cannot take over a socket, so WebSocket routes (sandbox streams, the port
 * proxy) register here and `startControlPlane` feeds the server's `upgrade` events in.
 */
export class UpgradeRegistry {
  private readonly handlers: UpgradeHandler[] = [];
  private readonly closers: (() => void | Promise<void>)[] = [];

  /** Adds a handler; earlier handlers see each request first. */
  add(handler: UpgradeHandler): void {
    this.handlers.push(handler);
  }

  /**
   * Registers what ends a handler's open sockets at shutdown: upgraded sockets are no
   * longer the HTTP server's, so `server.close()` would wait for them forever.
   */
  onClose(closer: () => void | Promise<void>): void {
    this.closers.push(closer);
  }

  /** Ends every handler's open sockets (called by the server before it closes). */
  async close(): Promise<void> {
    await Promise.allSettled(this.closers.map(async (c) => c()));
  }

  /** Offers the request to each handler in turn; `404` when none claims it. */
  async dispatch(req: IncomingMessage, socket: Duplex, head: Buffer, log: Logger): Promise<void> {
    try {
      for (const handler of this.handlers) {
        if (await handler(req, socket, head)) return;
      }
      rejectUpgrade(socket, 404, { code: "not_found", message: `no WebSocket route for ${req.url ?? "/"}` });
    } catch (err) {
      log.error({ err, url: req.url }, "websocket upgrade failed");
      rejectUpgrade(socket, 500, { code: "internal", message: "internal error" });
    }
  }
}

/** Answers an upgrade request with a plain HTTP error (`{code, message}` JSON) and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, body: { code: string; message: string }): void {
  if (socket.destroyed) return;
  const json = JSON.stringify(body);
  const reason =
    status === 404 ? "Not Found" : status === 401 ? "Unauthorized" : status >= 500 ? "Error" : "Bad Request";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}
