import { randomUUID } from "node:crypto";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Logger } from "@wrenn/common";
import type { Context, MiddlewareHandler } from "hono";
import type { AuthContext } from "../services/auth-context.ts";
import type { Authenticator, Credentials } from "../services/authenticator.ts";
import type { AppEnv } from "./context.ts";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Assigns a request id (honouring a sane incoming `X-Request-Id`), a child logger, and logs each request. */
export function requestContext(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const child = log.child({ reqId: requestId });
    c.set("requestId", requestId);
    c.set("log", child);
    c.header("X-Request-Id", requestId);
    const start = performance.now();
    await next();
    child.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - start),
      },
      "request",
    );
  };
}

/** The client's IP: the last `X-Forwarded-For` entry (our proxy's) behind a trusted proxy, else the socket peer. */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    // The last entry is the one our proxy appended; entries before it are whatever the client sent.
    const fwd = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (fwd) return fwd;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // no socket (in-process requests in tests)
  }
}

/**
 * The auth middlewares, and `authenticate` for requests that are not routed through
 * Hono (WebSocket upgrades); the {@link Authenticator} behind them re-reads the credential's
 * subject from the database on every request.
 */
export function authMiddlewares(authenticator: Authenticator) {
  const authenticate = (credentials: Credentials): Promise<AuthContext> =>
    authenticator.authenticate(credentials);

  const requireJWT: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set(
      "auth",
      await authenticator.fromJwt(c.req.header("authorization"), Boolean(c.req.header("x-api-key"))),
    );
    await next();
  };

  const requireAPIKeyOrJWT: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set(
      "auth",
      await authenticate({ authorization: c.req.header("authorization"), apiKey: c.req.header("x-api-key") }),
    );
    await next();
  };

  /** Platform admins only, after `requireJWT`. */
  const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
    await requireJWT(c, async () => {
      await authenticator.requireAdmin(c.get("auth"));
      await next();
    });
  };

  return { requireJWT, requireAPIKeyOrJWT, requireAdmin, authenticate };
}
