import {
  Agent,
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Duplex } from "node:stream";
import {
  createLogger,
  endToEndHeaders,
  errors,
  httpStatusByCode,
  isWrennError,
  type Logger,
  WrennError,
} from "@wrenn/common";
import {
  type SplicedUpgrade,
  spliceUpgrade,
  upgradeRequestHeaders,
  writeRawJson,
} from "@wrenn/common/upgrade";
import type { ConnLease, ConnTracker } from "./conn-tracker.ts";
import { upstreamRequestHeaders } from "./headers.ts";
import { type ProxyRoute, parseProxyRoute } from "./route.ts";

/** Where a sandbox's ports are reached, and the tracker counting its proxy connections. */
export interface ProxyTarget {
  /** The sandbox's host-reachable address (e.g. `SlotNetwork.hostIp`). */
  host: string;
  /** Connection tracker of the sandbox; when omitted its connections are not tracked. */
  conns?: ConnTracker;
}

/**
 * Looks a sandbox up: its target, or null when no such sandbox runs here. May throw a
 * {@link WrennError} (e.g. `failed_precondition` for a paused sandbox); its code picks the status.
 */
export type ProxyResolver = (sandboxId: string) => ProxyTarget | null | Promise<ProxyTarget | null>;

/** Options of {@link SandboxProxy}. */
export interface SandboxProxyOptions {
  resolve: ProxyResolver;
  /** Connection pool to the guests; defaults to a keep-alive agent owned by the proxy. */
  agent?: Agent;
  /** How long connecting to a guest port may take before answering 502 (default 5000 ms). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** Failures talking to the guest: sent as 502 with code `unavailable` and a clear message. */
class UpstreamError extends WrennError {}

const NO_TRACKING: ConnLease = { release: () => {} };

/**
 * The host agent's port proxy: `/proxy/{sandboxId}/{port}/{rest…}` is forwarded to
 * `http://{target.host}:{port}/{rest…}`. Bodies stream in both directions (nothing is
 * buffered) and WebSocket (any HTTP/1.1 Upgrade) passes through {@link handleUpgrade}.
 * Every request and upgraded connection holds a lease on the sandbox's {@link ConnTracker}.
 */
export class SandboxProxy {
  /** The shared keep-alive pool used for every guest connection. */
  readonly agent: Agent;
  private readonly ownsAgent: boolean;
  private readonly resolveTarget: ProxyResolver;
  private readonly connectTimeoutMs: number;
  private readonly log: Logger;

  constructor(options: SandboxProxyOptions) {
    this.resolveTarget = options.resolve;
    this.ownsAgent = options.agent === undefined;
    this.agent =
      options.agent ?? new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, timeout: 60_000 });
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.log = options.logger ?? createLogger("host-agent");
  }

  /**
   * Handles a request whose path starts with `/proxy/` (HTTP/1.1 `request` event or the
   * HTTP/2 compatibility API). Never rejects: every failure becomes a `{code, message}` answer.
   */
  readonly handleRequest = async (req: AnyRequest, res: AnyResponse): Promise<void> => {
    let route: ProxyRoute;
    let target: ProxyTarget;
    try {
      route = parseProxyRoute(req.url ?? "");
      target = await this.lookup(route.sandboxId);
    } catch (err) {
      this.sendError(res, err);
      return;
    }
    let upstream: ClientRequest | undefined;
    const lease = target.conns
      ? target.conns.acquire(() => {
          upstream?.destroy();
          destroyResponse(res);
        })
      : NO_TRACKING;
    if (!lease) {
      this.sendError(res, errors.unavailable("sandbox is pausing; retry shortly"));
      return;
    }
    const request = httpRequest({
      host: target.host,
      port: route.port,
      method: req.method,
      path: route.upstreamPath,
      headers: upstreamRequestHeaders(req.headers, req.socket?.remoteAddress),
      agent: this.agent,
    });
    upstream = request;
    res.once("close", () => {
      lease.release();
      if (!res.writableFinished) request.destroy();
    });
    this.armConnectTimeout(request);
    request.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, endToEndHeaders(answer.headers));
      answer.on("error", () => destroyResponse(res));
      answer.pipe(res as NodeJS.WritableStream);
    });
    request.on("error", (err) => {
      if (res.headersSent) destroyResponse(res);
      else this.sendError(res, upstreamError(err, route));
    });
    req.on("error", () => request.destroy());
    req.pipe(request);
  };

  /**
   * Handles an HTTP/1.1 `upgrade` event (WebSocket) for a `/proxy/` path: performs the upgrade
   * with the guest and then splices the two sockets together.
   */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    void this.upgrade(req, socket, head).catch((err: unknown) => this.sendRawError(socket, err));
  };

  /**
   * Closes idle pooled connections to `host` (call it before pausing that sandbox, so no
   * pooled TCP connection survives into the snapshot). Returns how many were closed.
   */
  dropIdleConnections(host: string): number {
    let closed = 0;
    for (const [name, sockets] of Object.entries(this.agent.freeSockets)) {
      if (!name.startsWith(`${host}:`)) continue;
      for (const socket of sockets ?? []) {
        // A destroyed socket stays listed until its asynchronous "close" event.
        if (socket.destroyed) continue;
        socket.destroy();
        closed++;
      }
    }
    return closed;
  }

  /** Closes the pool (only when the proxy created it). */
  close(): void {
    if (this.ownsAgent) this.agent.destroy();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const route = parseProxyRoute(req.url ?? "");
    const target = await this.lookup(route.sandboxId);
    let upstream: ClientRequest | undefined;
    let spliced: SplicedUpgrade | undefined;
    const lease = target.conns
      ? target.conns.acquire(() => {
          upstream?.destroy();
          spliced?.upstreamSocket?.destroy();
          socket.destroy();
        })
      : NO_TRACKING;
    if (!lease) throw errors.unavailable("sandbox is pausing; retry shortly");
    upstream = httpRequest({
      host: target.host,
      port: route.port,
      method: req.method,
      path: route.upstreamPath,
      headers: upgradeRequestHeaders(
        upstreamRequestHeaders(req.headers, req.socket.remoteAddress),
        req.headers,
      ),
      agent: this.agent,
    });
    socket.once("close", () => lease.release());
    this.armConnectTimeout(upstream);
    // A guest that declines the upgrade has its ordinary answer relayed.
    spliced = spliceUpgrade(socket, head, upstream, (err) =>
      this.sendRawError(socket, upstreamError(err, route)),
    );
  }

  private async lookup(sandboxId: string): Promise<ProxyTarget> {
    const target = await this.resolveTarget(sandboxId);
    if (!target) throw errors.notFound("sandbox not found");
    return target;
  }

  /** Fails a request whose TCP connect to the guest hangs (e.g. the VM is stopped). */
  private armConnectTimeout(upstream: ClientRequest): void {
    upstream.once("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => {
        upstream.destroy(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" }));
      }, this.connectTimeoutMs);
      socket.once("connect", () => clearTimeout(timer));
      socket.once("close", () => clearTimeout(timer));
    });
  }

  private errorAnswer(err: unknown): { status: number; body: Record<string, unknown> } {
    if (err instanceof UpstreamError) return { status: 502, body: err.toJSON() };
    if (isWrennError(err)) return { status: httpStatusByCode[err.code], body: err.toJSON() };
    this.log.error({ err }, "port proxy failed");
    return { status: 500, body: errors.internal().toJSON() };
  }

  private sendError(res: AnyResponse, err: unknown): void {
    const { status, body } = this.errorAnswer(err);
    if (res.headersSent) {
      destroyResponse(res);
      return;
    }
    const json = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
    res.end(json);
  }

  private sendRawError(socket: Duplex, err: unknown): void {
    if (socket.destroyed) return;
    const { status, body } = this.errorAnswer(err);
    writeRawJson(socket, status, body);
  }
}

/** Explains a failure to reach the guest port; internal details stay in the cause. */
function upstreamError(err: Error & { code?: string }, route: ProxyRoute): UpstreamError {
  const where = `port ${route.port} of sandbox ${route.sandboxId}`;
  const message =
    err.code === "ECONNREFUSED"
      ? `nothing is listening on ${where}`
      : err.code === "ETIMEDOUT" || err.code === "EHOSTUNREACH"
        ? `${where} did not answer`
        : `connection to ${where} failed`;
  return new UpstreamError("unavailable", message, { cause: err });
}

function destroyResponse(res: AnyResponse): void {
  if ("stream" in res) res.stream.destroy();
  else res.destroy();
}
