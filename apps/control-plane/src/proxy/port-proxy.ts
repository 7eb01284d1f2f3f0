import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { errors, httpStatusByCode, type Logger } from "@wrenn/common";
import { writeRawJson } from "@wrenn/common/upgrade";
import type { Database } from "@wrenn/db";
import type { MiddlewareHandler } from "hono";
import type { Redis } from "ioredis";
import type { EnvdTokenVault } from "../crypto/envd-tokens.ts";
import type { AppEnv } from "../http/context.ts";
import { toWrennError } from "../http/errors.ts";
import type { UpgradeHandler } from "../http/upgrade.ts";
import type { AgentTls } from "../tls/agent-tls.ts";
import { isSignedEnvdFileRequest, ProxyAccess, type ProxyCredentials } from "./access.ts";
import { type ProxyAddress, parseProxyAddress } from "./address.ts";
import {
  PORT_SESSION_COOKIE,
  PortBrowserSessions,
  readCookie,
  sessionCookie,
  ticketOf,
  withoutTicket,
} from "./browser-session.ts";
import { AgentForwarder, writeRawError } from "./forward.ts";
import { NOT_RUNNING_STATUS, notRunningAnswer } from "./not-running.ts";

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function credentialsOf(headers: IncomingHttpHeaders): ProxyCredentials {
  return { apiKey: header(headers, "x-api-key"), accessToken: header(headers, "x-access-token") };
}

/**
 * Checks a request's credentials, in order: an `X-API-Key` / `X-Access-Token` header (always
 * checked when given); a browser's port session cookie; a signed envd `/files` URL, routed without
 * a credential (envd verifies the signature). None of them: `unauthenticated`.
 */
async function authorizeRequest(
  access: ProxyAccess,
  sessions: PortBrowserSessions | undefined,
  address: ProxyAddress,
  req: IncomingMessage,
) {
  const creds = credentialsOf(req.headers);
  if (creds.apiKey || creds.accessToken) return await access.authorize(address, creds);
  const cookie = sessions && readCookie(header(req.headers, "cookie"), PORT_SESSION_COOKIE);
  if (sessions && cookie) {
    const session = await sessions.check(cookie, address);
    return await access.authorizeTeam(address, session.teamId);
  }
  if (isSignedEnvdFileRequest(address, req.url)) return await access.authorizeSignedFileUrl(address, req.url);
  return await access.authorize(address, creds);
}

/** The parts of a request {@link authorizeRequest} reads, from a Fetch request (in-process `app.request()`). */
function pseudoIncoming(req: Request): IncomingMessage {
  const url = new URL(req.url);
  return { headers: Object.fromEntries(req.headers), url: url.pathname + url.search } as IncomingMessage;
}

/**
 * The control plane's port proxy: a request addressed to a sandbox port (by the
 * `E2b-Sandbox-Id`/`E2b-Sandbox-Port` headers or a `{port}-{sandboxId}.{domain}`
 * Host) is authorized and streamed through the owning host agent's
 * `/proxy/{sandboxId}/{port}/…`. {@link middleware} serves HTTP ahead of the API
 * routes; {@link upgradeHandler} serves WebSocket upgrades. With a session secret, a browser
 * opens a port with a dashboard-issued ticket (`?wrenn_port_ticket=`), traded here for a
 * host-only session cookie (see browser-session.ts).
 */
export class PortProxy {
  /** Authorization and the cached sandbox lookups (see {@link ProxyAccess.invalidate}). */
  readonly access: ProxyAccess;
  /** Browser sessions (port tickets and cookies); undefined without a session secret. */
  readonly sessions: PortBrowserSessions | undefined;
  private readonly forwarder: AgentForwarder;

  constructor(
    private readonly deps: {
      db: Database;
      redis: Redis;
      log: Logger;
      domain: string | undefined;
      /** mTLS towards agents (the host client pool's); undefined = plain HTTP. */
      agentTls?: AgentTls | undefined;
      /** Opens stored (encrypted) envd tokens. */
      envdTokens?: EnvdTokenVault;
      /** E2B's auto-resume of a paused sandbox on traffic (see {@link ProxyAccess}). */
      autoResume?: (target: { sandboxId: string; teamId: string }) => Promise<void>;
      /** Signs browser port sessions (the JWT secret; a key is derived from it); unset = no browser access. */
      sessionSecret?: string;
      /** Behind a TLS-terminating reverse proxy (`TRUST_PROXY`): `X-Forwarded-Proto: https` marks cookies Secure. */
      trustProxy?: boolean;
    },
  ) {
    this.access = new ProxyAccess(deps);
    this.sessions = deps.sessionSecret
      ? new PortBrowserSessions({ db: deps.db, redis: deps.redis, secret: deps.sessionSecret })
      : undefined;
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
    const url = new URL(c.req.url);
    const ticket = this.sessions && ticketOf(url.search);
    if (this.sessions && ticket !== undefined) {
      // A dashboard link: the ticket becomes this port host's session cookie, and the tab goes
      // on to the same URL without it (out of history, logs and Referer).
      const { token } = await this.sessions.redeem(ticket, address);
      const forwardedProto = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
      const secure =
        url.protocol === "https:" || (this.deps.trustProxy === true && forwardedProto === "https");
      c.header("set-cookie", sessionCookie(token, secure));
      c.header("cache-control", "no-store");
      c.header("referrer-policy", "no-referrer");
      return c.redirect(withoutTicket(url.pathname + url.search), 303);
    }
    const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
    const incoming = env?.incoming ?? pseudoIncoming(c.req.raw);
    let hostAddress: string;
    try {
      ({ hostAddress } = await authorizeRequest(this.access, this.sessions, address, incoming));
      if (!env?.incoming || !env.outgoing) {
        // Streaming needs the Node request and response (in-process app.request() has neither).
        throw errors.unavailable("the port proxy is served only by the control plane's HTTP server");
      }
    } catch (err) {
      const notRunning = notRunningAnswer(err, address.wireId);
      if (notRunning) return c.json(notRunning, NOT_RUNNING_STATUS);
      throw err;
    }
    const status = await this.forwarder.forwardHttp(incoming, env.outgoing, hostAddress, address, {
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
      const { hostAddress } = await authorizeRequest(this.access, this.sessions, address, req);
      this.forwarder.forwardUpgrade(req, socket, head, hostAddress, address);
    } catch (err) {
      const notRunning = notRunningAnswer(err, address.wireId);
      if (notRunning) {
        writeRawJson(socket, NOT_RUNNING_STATUS, notRunning);
        return true;
      }
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
