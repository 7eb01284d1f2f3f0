import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { errors, httpStatusByCode, type Logger } from "@wrenn/common";
import type { Database } from "@wrenn/db";
import type { MiddlewareHandler } from "hono";
import type { Redis } from "ioredis";
import type { AppEnv } from "../http/context.ts";
import { toWrennError } from "../http/errors.ts";
import type { UpgradeHandler } from "../http/upgrade.ts";
import type { AgentTls } from "../tls/agent-tls.ts";
import { isSignedEnvdFileRequest, ProxyAccess, type ProxyCredentials } from "./access.ts";
import { type ProxyAddress, parseProxyAddress } from "./address.ts";
import { AgentForwarder, writeRawError } from "./forward.ts";

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function credentialsOf(headers: IncomingHttpHeaders): ProxyCredentials {
  return { apiKey: header(headers, "x-api-key"), accessToken: header(headers, "x-access-token") };
}

/**
 * Checks a request's credentials; one without any that is a signed envd `/files` URL is
 * routed without them (envd verifies the signature). A credential, when given, is always checked.
 */
function authorizeRequest(access: ProxyAccess, address: ProxyAddress, req: IncomingMessage) {
  const creds = credentialsOf(req.headers);
  if (!creds.apiKey && !creds.accessToken && isSignedEnvdFileRequest(address, req.url)) {
    return access.authorizeSignedFileUrl(address, req.url);
  }
  return access.authorize(address, creds);
}

/**
 * The control plane's port proxy: a request addressed to a sandbox port (by the
 * `E2b-Sandbox-Id`/`E2b-Sandbox-Port` headers or a `{port}-{sandboxId}.{domain}`
 * Host) is authorized and streamed through the owning host agent's
 * `/proxy/{sandboxId}/{port}/…`. {@link middleware} serves HTTP ahead of the API
 * routes; {@link upgradeHandler} serves WebSocket upgrades.
 */
export class PortProxy {
  /** Authorization and the cached sandbox lookups (see {@link ProxyAccess.invalidate}). */
  readonly access: ProxyAccess;
  private readonly forwarder: AgentForwarder;

  constructor(
    private readonly deps: {
      db: Database;
      redis: Redis;
      log: Logger;
      domain: string | undefined;
      /** mTLS towards agents (the host client pool's); undefined = plain HTTP. */
      agentTls?: AgentTls | undefined;
    },
  ) {
    this.access = new ProxyAccess(deps);
    this.forwarder = new AgentForwarder(deps.agentTls);
  }

  /** Hono middleware: proxies requests addressed to a sandbox port, passes the rest on. */
  readonly middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const address = parseProxyAddress(
      {
        host: c.req.header("host"),
        "e2b-sandbox-id": c.req.header("e2b-sandbox-id"),
        "e2b-sandbox-port": c.req.header("e2b-sandbox-port"),
      },
      this.deps.domain,
    );
    if (!address) return next();
    const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
    if (!env?.incoming || !env.outgoing) {
      // Streaming needs the Node request and response (in-process app.request() has neither).
      throw errors.unavailable("the port proxy is served only by the control plane's HTTP server");
    }
    const { hostAddress } = await authorizeRequest(this.access, address, env.incoming);
    const status = await this.forwarder.forwardHttp(env.incoming, env.outgoing, hostAddress, address, {
      "x-request-id": c.get("requestId"),
    });
    c.get("log").debug({ sandbox: address.wireId, port: address.port, status }, "proxied");
    return RESPONSE_ALREADY_SENT;
  };

  /** Upgrade handler: claims WebSocket upgrades addressed to a sandbox port. */
  readonly upgradeHandler: UpgradeHandler = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let address: ReturnType<typeof parseProxyAddress>;
    try {
      address = parseProxyAddress(req.headers, this.deps.domain);
    } catch (err) {
      const e = toWrennError(err);
      writeRawError(socket, e, httpStatusByCode[e.code]);
      return true;
    }
    if (!address) return false;
    try {
      const { hostAddress } = await this.access.authorize(address, credentialsOf(req.headers));
      this.forwarder.forwardUpgrade(req, socket, head, hostAddress, address);
    } catch (err) {
      const e = toWrennError(err);
      if (httpStatusByCode[e.code] >= 500) this.deps.log.warn({ err: e.cause ?? e }, e.message);
      writeRawError(socket, e, httpStatusByCode[e.code]);
    }
    return true;
  };

  /** Closes pooled connections to host agents. */
  close(): void {
    this.forwarder.close();
  }
}
