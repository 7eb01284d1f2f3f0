import { randomUUID } from "node:crypto";
import { getConnInfo } from "@hono/node-server/conninfo";
import { errors, type Logger } from "@wrenn/common";
import { type Database, findApiKeyByHash, getUserById, touchApiKey } from "@wrenn/db";
import type { Context, MiddlewareHandler } from "hono";
import { API_KEY_PREFIX, hashApiKey } from "../auth/api-keys.ts";
import type { SessionTokens } from "../auth/jwt.ts";
import type { AppEnv, AuthContext } from "./context.ts";

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

/** The client's IP: the first `X-Forwarded-For` hop behind a trusted proxy, else the socket peer. */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = c.req.header("x-forwarded-for")?.split(",")[0]?.trim();
    if (fwd) return fwd;
  }
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // no socket (in-process requests in tests)
  }
}

// last_used_at is refreshed at most this often per key, so hot keys do not write on every request.
const TOUCH_INTERVAL_MS = 10_000;

/** The credentials of a request, as its headers carry them. */
export interface Credentials {
  /** The `Authorization` header (`Bearer <JWT>`). */
  authorization?: string | undefined;
  /** The `X-API-Key` header. */
  apiKey?: string | undefined;
}

/**
 * The auth middlewares, and `authenticate` for requests that are not routed through
 * Hono (WebSocket upgrades); every one re-reads the credential's subject from the database.
 */
export function authMiddlewares(deps: { db: Database; tokens: SessionTokens }) {
  const { db, tokens } = deps;
  const lastTouch = new Map<string, number>();

  const fromJwt = async (authorization: string | undefined, hasApiKey: boolean): Promise<AuthContext> => {
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) {
      throw errors.unauthenticated(
        hasApiKey ? "this route needs a user session (Bearer token), not an API key" : undefined,
      );
    }
    const claims = await tokens.verify(match[1]);
    const user = await getUserById(db, claims.sub);
    if (!user) throw errors.unauthenticated("user no longer exists");
    return {
      kind: "jwt",
      userId: user.id,
      teamId: claims.team,
      roleHint: claims.role,
      isAdmin: user.isAdmin,
      name: user.name,
      email: user.email,
      user,
    };
  };

  const fromApiKey = async (key: string): Promise<AuthContext> => {
    if (!key.startsWith(API_KEY_PREFIX)) throw errors.unauthenticated("invalid API key");
    const found = await findApiKeyByHash(db, hashApiKey(key));
    if (!found) throw errors.unauthenticated("invalid API key");
    const row = found.key;
    const now = Date.now();
    const last = Math.max(row.lastUsedAt?.getTime() ?? 0, lastTouch.get(row.id) ?? 0);
    if (now - last > TOUCH_INTERVAL_MS) {
      // Claimed before the write so concurrent requests with the same key do not all update the row.
      lastTouch.set(row.id, now);
      if (lastTouch.size > 10_000) lastTouch.clear();
      await touchApiKey(db, row.id, new Date(now));
    }
    return {
      kind: "api_key",
      userId: row.createdBy,
      teamId: row.teamId,
      roleHint: null,
      isAdmin: false,
      name: row.name,
      email: "",
      apiKey: { id: row.id, name: row.name },
      team: found.team,
    };
  };

  /** API key when `X-API-Key` is present, else the Bearer JWT; `unauthenticated` otherwise. */
  const authenticate = (credentials: Credentials): Promise<AuthContext> =>
    credentials.apiKey === undefined
      ? fromJwt(credentials.authorization, false)
      : fromApiKey(credentials.apiKey);

  const requireJWT: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set("auth", await fromJwt(c.req.header("authorization"), Boolean(c.req.header("x-api-key"))));
    await next();
  };

  const requireAPIKeyOrJWT: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set(
      "auth",
      await authenticate({ authorization: c.req.header("authorization"), apiKey: c.req.header("x-api-key") }),
    );
    await next();
  };

  /** Platform admins only; `is_admin` is read from the database by `requireJWT`, never from the token. */
  const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
    await requireJWT(c, async () => {
      const auth = c.get("auth");
      const user = auth.userId ? await getUserById(db, auth.userId) : undefined;
      if (!user?.isAdmin) throw errors.permissionDenied("platform admin only");
      await next();
    });
  };

  return { requireJWT, requireAPIKeyOrJWT, requireAdmin, authenticate };
}
