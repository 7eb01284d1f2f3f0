import {
  Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestOptions,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { endToEndHeaders, errors, type WrennError } from "@wrenn/common";
import type { AgentTls } from "../tls/agent-tls.ts";
import { ENVD_PORT, type ProxyAddress } from "./address.ts";

/**
 * The headers sent on to the agent (and so to the guest). The team's API key never
 * reaches code in the sandbox; the envd access token goes only to envd, which checks it.
 */
export function forwardedHeaders(
  headers: IncomingHttpHeaders,
  address: ProxyAddress,
  clientAddress: string | undefined,
): OutgoingHttpHeaders {
  const out = endToEndHeaders(headers);
  delete out["x-api-key"];
  if (address.port !== ENVD_PORT) delete out["x-access-token"];
  if (clientAddress) {
    const prior = headers["x-forwarded-for"];
    out["x-forwarded-for"] = prior ? `${prior}, ${clientAddress}` : clientAddress;
  }
  return out;
}

/** The agent's port-proxy path for `address` and the client's path+query. */
export function agentPath(address: ProxyAddress, url: string | undefined): string {
  const path = url?.startsWith("/") ? url : `/${url ?? ""}`;
  return `/proxy/${address.wireId}/${address.port}${path}`;
}

function splitAddress(hostAddress: string): { host: string; port: number } {
  const colon = hostAddress.lastIndexOf(":");
  const host = hostAddress.slice(0, colon).replace(/^\[|\]$/g, "");
  return { host, port: Number(hostAddress.slice(colon + 1)) };
}

/** Failure reaching the agent itself (the agent's own 502 for a silent guest port passes through). */
function agentUnreachable(cause: unknown): WrennError {
  return errors.unavailable("the host agent of this sandbox is unreachable", cause);
}

/**
 * Streams requests to host agents' `/proxy/{sandboxId}/{port}/…` over HTTP/1.1:
 * bodies flow in both directions as they arrive (nothing is buffered), so Connect
 * server-streaming and long downloads work, and WebSocket upgrades are spliced.
 */
export class AgentForwarder {
  private readonly agent: Agent;

  /**
   * With `tls` (the host client pool's), connections to agents are mTLS: the agent's
   * certificate is verified against the CA and the current client certificate is
   * presented. The pool is keyed by the certificate too, so connections opened after a
   * renewal use the new one.
   */
  constructor(private readonly tls?: AgentTls | undefined) {
    const pooling = { keepAlive: true, maxSockets: 512, maxFreeSockets: 64 };
    this.agent = tls ? new HttpsAgent(pooling) : new Agent(pooling);
  }

  /** Opens a request to an agent: plain HTTP/1.1, or HTTP/1.1 over mTLS. */
  private open(hostAddress: string, options: Omit<RequestOptions, "host" | "port">): ClientRequest {
    const target = { ...splitAddress(hostAddress), ...options };
    return this.tls ? httpsRequest({ ...target, ...this.tls.connectOptions() }) : httpRequest(target);
  }

  /**
   * Forwards `req` and writes the agent's answer to `res`. Resolves with the status when the
   * exchange is over (client gone included); rejects, before anything was written, when the
   * agent cannot be reached.
   */
  forwardHttp(
    req: IncomingMessage,
    res: ServerResponse,
    hostAddress: string,
    address: ProxyAddress,
    extraHeaders: Record<string, string> = {},
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const upstream = this.open(hostAddress, {
        method: req.method,
        path: agentPath(address, req.url),
        headers: forwardedHeaders(req.headers, address, req.socket.remoteAddress),
        agent: this.agent,
      });
      let status = 499; // the client left before the agent answered
      res.once("close", () => {
        if (!res.writableFinished) upstream.destroy();
        resolve(status);
      });
      upstream.on("response", (answer) => {
        const headers: OutgoingHttpHeaders = { ...extraHeaders, ...endToEndHeaders(answer.headers) };
        status = answer.statusCode ?? 502;
        res.writeHead(status, headers);
        // Streamed responses (server-streaming RPCs, event streams) reach the client chunk by chunk.
        res.flushHeaders();
        answer.on("error", () => res.destroy());
        answer.pipe(res);
      });
      upstream.on("error", (err) => {
        if (res.headersSent) res.destroy();
        else reject(agentUnreachable(err));
      });
      req.on("error", () => upstream.destroy());
      req.pipe(upstream);
    });
  }

  /** Performs a WebSocket (any HTTP/1.1 Upgrade) through the agent and splices the sockets. */
  forwardUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    hostAddress: string,
    address: ProxyAddress,
  ): void {
    const headers = forwardedHeaders(req.headers, address, req.socket.remoteAddress);
    headers.connection = "Upgrade";
    if (req.headers.upgrade) headers.upgrade = req.headers.upgrade;
    // Upgraded connections never return to a pool.
    const upstream: ClientRequest = this.open(hostAddress, {
      method: req.method,
      path: agentPath(address, req.url),
      headers,
      agent: false,
    });
    let agentSocket: Duplex | undefined;
    socket.on("error", () => socket.destroy());
    socket.once("close", () => {
      if (!agentSocket) upstream.destroy();
    });
    upstream.on("upgrade", (answer, upstreamSocket, upstreamHead) => {
      agentSocket = upstreamSocket;
      socket.write(rawHead(answer));
      if (upstreamHead.length) socket.write(upstreamHead);
      if (head.length) upstreamSocket.write(head);
      upstreamSocket.on("error", () => socket.destroy());
      upstreamSocket.once("close", () => socket.destroy());
      socket.once("close", () => upstreamSocket.destroy());
      upstreamSocket.pipe(socket);
      socket.pipe(upstreamSocket);
    });
    upstream.on("response", (answer) => {
      // Refused upgrade (or an error from the agent): relay the answer and close.
      socket.write(rawHead(answer, { connection: "close" }));
      answer.pipe(socket);
    });
    upstream.on("error", (err) => {
      if (agentSocket) socket.destroy();
      else writeRawError(socket, agentUnreachable(err), 503);
    });
    upstream.end();
  }

  /** Closes pooled connections to agents. */
  close(): void {
    this.agent.destroy();
  }
}

/** Status line and headers of `answer` for a raw socket (the upgrade path). */
function rawHead(answer: IncomingMessage, override: Record<string, string> = {}): string {
  const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage ?? ""}`];
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    const name = answer.rawHeaders[i] ?? "";
    if (name.toLowerCase() in override) continue;
    lines.push(`${name}: ${answer.rawHeaders[i + 1] ?? ""}`);
  }
  for (const [name, value] of Object.entries(override)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Answers a raw (upgrade) socket with a `{code, message}` error and closes it. */
export function writeRawError(socket: Duplex, err: WrennError, status: number): void {
  if (socket.destroyed) return;
  const json = JSON.stringify(err.toJSON());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`,
  );
}
