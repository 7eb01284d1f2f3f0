import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createH2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { HostAgentService } from "@wrenn/proto";
import { isProxyPath, type SandboxProxy } from "../proxy/index.ts";
import type { HostTlsMaterial } from "../registration/credentials.ts";
import { createHostAgentService, createPtySessions, type ServiceDeps } from "./service.ts";

/** A running agent listener. */
export interface AgentServer {
  /** The bound port (useful with port 0). */
  port: number;
  /**
   * Serves mTLS from now on with this certificate, or (already serving mTLS) swaps in a
   * renewed one: connections opened afterwards get it, open ones keep theirs. There is
   * no way back to plain HTTP short of a restart without TLS credentials, so a stray
   * response without certificates cannot downgrade the listener. Throws on unusable PEM.
   */
  setTls(material: HostTlsMaterial): void;
  /** True once {@link setTls} was called (or `tls` was given at start). */
  readonly tls: boolean;
  close(): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * Serves the Connect service and the port proxy (`/proxy/{sandboxId}/{port}/…`,
 * WebSocket upgrades included) on one port. Without TLS material (dev mode) the first
 * bytes of a connection decide between HTTP/2 cleartext (h2c, prior knowledge) and
 * HTTP/1.1. With it, every connection is TLS 1.3 with a client certificate required and
 * verified against the control plane's CA, and ALPN decides: `h2` for Connect,
 * `http/1.1` for the proxy path and upgrades.
 */
export async function startAgentServer(
  deps: ServiceDeps & {
    proxy?: SandboxProxy | undefined;
    /** Idle limit of a detached terminal (default 120 s). */
    ptyIdleTimeoutMs?: number | undefined;
    /** Start serving mTLS right away (saved credentials of an earlier registration). */
    tls?: HostTlsMaterial | undefined;
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
  // Never listens itself: the TCP listener hands it raw sockets once TLS is on.
  let tlsServer: TlsServer | undefined;
  const setTls = (material: HostTlsMaterial) => {
    const context = { cert: material.certPem, key: material.keyPem, ca: material.caCertPem };
    if (tlsServer) {
      tlsServer.setSecureContext(context);
      return;
    }
    const server = createTlsServer({
      ...context,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
      ALPNProtocols: ["h2", "http/1.1"],
    });
    // Emitted only for a client whose certificate chains to the CA (and has the clientAuth usage).
    server.on("secureConnection", (socket: TLSSocket) => {
      if (socket.alpnProtocol === "h2") h2.emit("connection", socket);
      else h1.emit("connection", socket);
    });
    server.on("tlsClientError", (err, socket) => {
      deps.logger.debug({ err: err.message, remote: socket.remoteAddress }, "refused a TLS client");
      socket.destroy();
    });
    tlsServer = server;
  };
  if (deps.tls) setTls(deps.tls);
  const sockets = new Set<Socket>();
  const tcp: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    if (tlsServer) {
      tlsServer.emit("connection", socket);
      return;
    }
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
    setTls,
    get tls() {
      return tlsServer !== undefined;
    },
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
