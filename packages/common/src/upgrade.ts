import {
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  STATUS_CODES,
} from "node:http";
import type { Duplex } from "node:stream";

// One hop of an HTTP/1.1 Upgrade (WebSocket) relay, as both proxies run it: client → control
// plane → host agent, and host agent → guest port. Node-only, so it is a subpath export
// (`@wrenn/common/upgrade`) the SDK bundle never pulls in.

/** `headers` (already end-to-end) as an upgrade request: `Connection: Upgrade` and the client's `Upgrade` token. */
export function upgradeRequestHeaders(
  headers: OutgoingHttpHeaders,
  incoming: IncomingHttpHeaders,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...headers, connection: "Upgrade" };
  if (incoming.upgrade) out.upgrade = incoming.upgrade;
  return out;
}

/** The next hop's socket once the upgrade went through (undefined before). */
export interface SplicedUpgrade {
  readonly upstreamSocket: Duplex | undefined;
}

/**
 * Relays an upgrade through `upstream` (the request to the next hop, not yet ended) and ends it.
 * On `101` the answer's head goes to `client`, then the two sockets are spliced both ways and
 * either one closing closes the other. A refused upgrade's ordinary answer is relayed with
 * `connection: close`. When the next hop fails before the upgrade, `onUnreachable` answers the
 * client (see {@link writeRawJson}); after it, the client socket is simply destroyed. A client
 * gone before the upgrade aborts `upstream`.
 */
export function spliceUpgrade(
  client: Duplex,
  head: Buffer,
  upstream: ClientRequest,
  onUnreachable: (err: Error) => void,
): SplicedUpgrade {
  const state: { upstreamSocket: Duplex | undefined } = { upstreamSocket: undefined };
  client.once("close", () => {
    if (!state.upstreamSocket) upstream.destroy();
  });
  upstream.on("upgrade", (answer, upstreamSocket, upstreamHead) => {
    state.upstreamSocket = upstreamSocket;
    client.write(rawResponseHead(answer));
    if (upstreamHead.length) client.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.on("error", () => client.destroy());
    upstreamSocket.once("close", () => client.destroy());
    client.once("close", () => upstreamSocket.destroy());
    upstreamSocket.pipe(client);
    client.pipe(upstreamSocket);
  });
  upstream.on("response", (answer) => {
    client.write(rawResponseHead(answer, { connection: "close" }));
    answer.pipe(client);
  });
  upstream.on("error", (err) => {
    if (state.upstreamSocket) client.destroy();
    else onUnreachable(err);
  });
  upstream.end();
  return state;
}

/** Status line and headers of `answer` for a raw socket, `override` replacing same-named headers. */
export function rawResponseHead(answer: IncomingMessage, override: Record<string, string> = {}): string {
  const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage ?? ""}`];
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    const name = answer.rawHeaders[i] ?? "";
    if (name.toLowerCase() in override) continue;
    lines.push(`${name}: ${answer.rawHeaders[i + 1] ?? ""}`);
  }
  for (const [name, value] of Object.entries(override)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Answers a raw (upgrade) socket with `status` and a JSON body, and closes it (no-op once destroyed). */
export function writeRawJson(socket: Duplex, status: number, body: unknown): void {
  if (socket.destroyed) return;
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`,
  );
}
