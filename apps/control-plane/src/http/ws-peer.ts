import type { ErrorCode } from "@wrenn/common";
import { WebSocket } from "ws";
import type { StreamHandlers, StreamPeer } from "../services/sandbox-streams.ts";
import type { ServerMessage } from "../services/stream-messages.ts";

/** Above this many unsent bytes, a stream waits for the socket before sending more. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** A client that misses a pong for this long is cut off, so a dead peer does not hold its stream. */
const HEARTBEAT_MS = 30_000;

/** WebSocket close code for a stream that ended with `failure` (1000 when it ended normally). */
export function closeCodeOf(failure: ErrorCode | undefined): number {
  if (!failure) return 1000;
  // 1011: the server could not go on; 1008: the request itself cannot be served.
  return failure === "internal" || failure === "unavailable" ? 1011 : 1008;
}

/**
 * Connects a stream to an open WebSocket: JSON text messages both ways, backpressure
 * on the socket's buffer, close codes from {@link closeCodeOf}, and a ping heartbeat.
 */
export function serveStream(
  ws: WebSocket,
  open: (peer: StreamPeer) => StreamHandlers,
  heartbeatMs = HEARTBEAT_MS,
): void {
  const peer: StreamPeer = {
    send: (message: ServerMessage) =>
      new Promise<void>((resolve) => {
        if (ws.readyState !== WebSocket.OPEN) return resolve();
        const wait = ws.bufferedAmount > HIGH_WATER_BYTES;
        ws.send(JSON.stringify(message), () => {
          if (wait) resolve();
        });
        if (!wait) resolve();
      }),
    close: (failure) => {
      if (ws.readyState === WebSocket.OPEN) ws.close(closeCodeOf(failure), failure ?? "");
    },
  };
  const handlers = open(peer);
  let alive = true;
  const heartbeat = setInterval(() => {
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
  }, heartbeatMs);
  heartbeat.unref();
  ws.on("pong", () => {
    alive = true;
  });
  ws.on("message", (data, isBinary) => {
    alive = true;
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    handlers.message(bytes, isBinary);
  });
  ws.on("error", () => ws.terminate());
  ws.once("close", () => {
    clearInterval(heartbeat);
    handlers.closed();
  });
}
