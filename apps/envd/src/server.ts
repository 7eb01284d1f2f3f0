import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { Duplex } from "node:stream";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createLogger, type Logger } from "@wrenn/common";
import { Filesystem, Process } from "@wrenn/proto";
import type { EnvdConfig, EnvdContext } from "./context.ts";
import { createFilesystemService } from "./filesystem/service.ts";
import { type HttpRequest, type HttpResponse, sendJson } from "./http/respond.ts";
import { createHttpRoutes } from "./http/routes.ts";
import { PortForwarder } from "./portforward.ts";
import { ProcessManager } from "./process/manager.ts";
import { createProcessService } from "./process/service.ts";
import { accessTokenInterceptor, errorInterceptor } from "./rpc.ts";
import { EnvdState } from "./state.ts";
import { UserDatabase } from "./users.ts";

/** A running envd. */
export interface EnvdServer {
  /** The port it listens on (useful with port 0). */
  port: number;
  context: EnvdContext;
  processes: ProcessManager;
  portForwarder: PortForwarder;
  /** Stops listening, kills started processes, closes watchers and relays. */
  close(): Promise<void>;
}

/** The defaults of a guest envd; main.ts and tests override what they need. */
export function defaultConfig(): EnvdConfig {
  return {
    port: 49983,
    host: "0.0.0.0",
    passwdFile: "/etc/passwd",
    groupFile: "/etc/group",
    clockSync: true,
    forwardAddresses: undefined,
    portScanIntervalMs: 1000,
    outputBufferBytes: 4 * 1024 * 1024,
    version: "0.6.4",
  };
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
 * Starts envd: one TCP listener that serves HTTP/1.1 and cleartext HTTP/2
 * (prior knowledge) alike, by looking at the first bytes of each connection;
 * the plain routes are answered first, everything else goes to Connect.
 */
export async function startEnvd(overrides: Partial<EnvdConfig> = {}, logger?: Logger): Promise<EnvdServer> {
  const config = { ...defaultConfig(), ...overrides };
  const context: EnvdContext = {
    config,
    state: new EnvdState(),
    users: new UserDatabase({ passwdFile: config.passwdFile, groupFile: config.groupFile }),
    logger: logger ?? createLogger("envd"),
  };
  const processes = new ProcessManager(context);
  const filesystem = createFilesystemService(context);
  const httpRoutes = createHttpRoutes(context);
  const connectHandler = connectNodeAdapter({
    routes(router) {
      router.service(Process, createProcessService(context, processes));
      router.service(Filesystem, filesystem);
    },
    interceptors: [errorInterceptor(context), accessTokenInterceptor(context)],
    fallback(_req, res) {
      sendJson(res as HttpResponse, 404, { code: 404, message: "no such route" });
    },
  });
  const handle = (req: HttpRequest, res: HttpResponse) => {
    if (httpRoutes(req, res)) return;
    connectHandler(req, res);
  };

  const http1: Http1Server = createHttp1Server({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle);
  const http2: Http2Server = createHttp2Server({}, handle);
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
        http2.emit("connection", replayingDuplex(socket, head));
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
    tcp.listen({ port: config.port, host: config.host }, () => resolve());
  });
  const address = tcp.address();
  const port = typeof address === "object" && address ? address.port : config.port;

  const portForwarder = new PortForwarder({
    excludedPorts: [port],
    addresses: config.forwardAddresses ? () => config.forwardAddresses ?? [] : undefined,
    intervalMs: config.portScanIntervalMs,
    logger: context.logger,
  });
  portForwarder.start();

  return {
    port,
    context,
    processes,
    portForwarder,
    async close() {
      portForwarder.stop();
      filesystem.closeAll();
      processes.killAll();
      await new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      http1.close();
      http2.close();
    },
  };
}
