import { createServer as createHttp1Server } from "node:http";
import type { Http2Server } from "node:http2";
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { Duplex } from "node:stream";
import type { HttpRequest, HttpResponse } from "./http/respond.ts";

/** A request handler for both protocols. */
export type RequestHandler = (req: HttpRequest, res: HttpResponse) => void;

/** envd's TCP listener. */
export interface Listener {
  port: number;
  /** Milliseconds since the Node process started, when the port was open. */
  listeningAtMs: number;
  close(): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n");

/**
 * A duplex over `socket` that first replays the bytes already read while
 * sniffing. HTTP/2 sessions read from a socket's native handle, bypassing
 * `unshift`, so the h2c side gets this stream-based view instead.
 */
function replayingDuplex(socket: Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once("end", () => duplex.push(null));
  socket.once("close", () => duplex.destroy());
  return duplex;
}

/**
 * Opens envd's port before the rest of envd is loaded: one TCP listener that
 * serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge) alike, by looking at
 * the first bytes of each connection. `/health` is answered at once; every
 * other request waits for `handler` (the Connect services and HTTP routes,
 * whose modules take most of the start-up time under emulation).
 */
export async function openListener(
  port: number,
  host: string,
  handler: Promise<RequestHandler>,
): Promise<Listener> {
  let ready: RequestHandler | undefined;
  let failed = false;
  handler.then(
    (loaded) => {
      ready = loaded;
    },
    () => {
      failed = true;
    },
  );
  const handle: RequestHandler = (req, res) => {
    if (ready) {
      ready(req, res);
      return;
    }
    if (req.method === "GET" && (req.url ?? "").split("?")[0] === "/health") {
      res.writeHead(failed ? 503 : 204).end();
      return;
    }
    handler.then(
      (loaded) => loaded(req, res),
      () => res.writeHead(503).end(),
    );
  };
  const http1 = createHttp1Server({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle);
  // node:http2 loads on the first h2c connection: most clients (and /health probes) speak HTTP/1.1.
  let http2: Promise<Http2Server> | undefined;
  const http2Server = () => {
    http2 ??= import("node:http2").then(({ createServer }) => createServer({}, handle));
    return http2;
  };
  const sockets = new Set<Socket>();
  const tcp: TcpServer = createTcpServer({ noDelay: true, keepAlive: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    let head = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const compared = Math.min(head.length, HTTP2_PREFACE.length);
      const isHttp2 = head.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      if (isHttp2 && head.length < HTTP2_PREFACE.length) return;
      socket.off("data", sniff);
      if (isHttp2) {
        const duplex = replayingDuplex(socket, head);
        void http2Server().then((server) => server.emit("connection", duplex));
        return;
      }
      socket.pause();
      socket.unshift(head);
      http1.emit("connection", socket);
      socket.resume();
    };
    socket.on("data", sniff);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen({ port, host }, () => resolve());
  });
  const listeningAtMs = performance.now();
  const address = tcp.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    listeningAtMs,
    async close() {
      await new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      http1.close();
      (await http2)?.close();
    },
  };
}
