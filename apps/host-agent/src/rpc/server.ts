import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createH2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { HostAgentService } from "@wrenn/proto";
import { isProxyPath, type SandboxProxy } from "../proxy/index.ts";
import { createHostAgentService, createPtySessions, type ServiceDeps } from "./service.ts";

/** A running agent listener. */
export interface AgentServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * Serves the Connect service over HTTP/2 cleartext (h2c, prior knowledge) and
 * HTTP/1.1 on one port: the first bytes of a connection decide. The port proxy
 * (`/proxy/{sandboxId}/{port}/…`, WebSocket upgrades included) is served on
 * both. mTLS is a later step; then TLS + ALPN replace the sniffing.
 */
export async function startAgentServer(
  deps: ServiceDeps & {
    proxy?: SandboxProxy | undefined;
    /** Idle limit of a detached terminal (default 120 s). */
    ptyIdleTimeoutMs?: number | undefined;
  },
  listen: { host: string; port: number },
): Promise<AgentServer> {
  const ptySessions = deps.ptySessions ?? createPtySessions(deps.manager, deps.logger, deps.ptyIdleTimeoutMs);
  const rpc = connectNodeAdapter({
    routes: (router) => router.service(HostAgentService, createHostAgentService({ ...deps, ptySessions })),
  });
  const handle = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    if (deps.proxy && isProxyPath(req.url ?? "")) {
      void deps.proxy.handleRequest(req, res);
      return;
    }
    rpc(req as IncomingMessage, res as ServerResponse);
  };
  const h1 = createHttpServer(handle);
  if (deps.proxy) h1.on("upgrade", deps.proxy.handleUpgrade);
  const h2 = createH2Server(handle);
  const sockets = new Set<Socket>();
  const tcp: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && head.length < H2_PREFACE.length) return; // undecided: wait for more
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      if (isH2) {
        // The HTTP/2 session reads what is buffered on the socket itself when it attaches.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(listen.port, listen.host, () => resolve());
  });
  const address = tcp.address();
  return {
    port: typeof address === "object" && address ? address.port : listen.port,
    close: async () => {
      await new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      h1.close();
      h2.close();
      ptySessions.close();
    },
  };
}
