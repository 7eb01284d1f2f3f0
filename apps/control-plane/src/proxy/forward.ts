import {
  Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestOptions,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { endToEndHeaders, errors, type WrennError } from "@wrenn/common";
import { spliceUpgrade, upgradeRequestHeaders, writeRawJson } from "@wrenn/common/upgrade";
import type { AgentTls } from "../tls/agent-tls.ts";
import { ENVD_PORT, type ProxyAddress } from "./address.ts";
import { PORT_SESSION_COOKIE, stripCookie } from "./browser-session.ts";

/**
 * The headers sent on to the agent (and so to the guest). The team's API key never
 * reaches code in the sandbox, nor does the browser's port session cookie; the envd access token
 * goes only to envd, which checks it.
 */
export function forwardedHeaders(
  headers: IncomingHttpHeaders,
  address: ProxyAddress,
  clientAddress: string | undefined,
): OutgoingHttpHeaders {
  const out = endToEndHeaders(headers);
  delete out["x-api-key"];
  // The browser's port session never reaches code in the sandbox either.
  const cookie = stripCookie(headers.cookie, PORT_SESSION_COOKIE);
  if (cookie) out.cookie = cookie;
  else delete out.cookie;
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
    if (!this.tls) return httpRequest(target);
    // Verify the agent by its own address: Node would otherwise take the name to check from the
    // Host header, which for `{port}-{id}.{domain}` requests names the sandbox, not the agent.
    // An empty servername sends no SNI (an IP cannot be one) and checks the address itself.
    const servername = isIP(target.host) ? "" : target.host;
    return httpsRequest({ ...target, servername, ...this.tls.connectOptions() });
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
    socket.on("error", () => socket.destroy());
    // Upgraded connections never return to a pool.
    const upstream = this.open(hostAddress, {
      method: req.method,
      path: agentPath(address, req.url),
      headers: upgradeRequestHeaders(
        forwardedHeaders(req.headers, address, req.socket.remoteAddress),
        req.headers,
      ),
      agent: false,
    });
    // A refused upgrade (or an error from the agent) is relayed as it is.
    spliceUpgrade(socket, head, upstream, (err) => writeRawError(socket, agentUnreachable(err), 503));
  }

  /** Closes pooled connections to agents. */
  close(): void {
    this.agent.destroy();
  }
}

/** Answers a raw (upgrade) socket with a `{code, message}` error and closes it. */
export function writeRawError(socket: Duplex, err: WrennError, status: number): void {
  writeRawJson(socket, status, err.toJSON());
}
