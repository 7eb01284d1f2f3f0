import { Code, ConnectError, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { hasValidAccessToken, usernameFromAuthorization } from "./auth.ts";
import { type EnvdContext, requestUser } from "./context.ts";
import { toConnectError } from "./errors.ts";
import type { UserAccount } from "./users.ts";

/** Rejects RPCs without the access token once `/init` configured one. */
export function accessTokenInterceptor(ctx: EnvdContext): Interceptor {
  return (next) => async (req) => {
    const token = req.header.get("x-access-token") ?? undefined;
    if (!hasValidAccessToken(ctx.state, token)) {
      throw new ConnectError(
        token === undefined ? "access token required" : "invalid access token",
        Code.Unauthenticated,
      );
    }
    return next(req);
  };
}

async function* mapStreamErrors<T>(source: AsyncIterable<T>, ctx: EnvdContext): AsyncIterable<T> {
  try {
    yield* source;
  } catch (err) {
    throw toConnectError(err, ctx.logger);
  }
}

/**
 * Converts whatever a handler throws into a Connect error with a client-safe
 * message (the single error boundary of the RPC side).
 */
export function errorInterceptor(ctx: EnvdContext): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (res.stream) return { ...res, message: mapStreamErrors(res.message, ctx) };
      return res;
    } catch (err) {
      throw toConnectError(err, ctx.logger);
    }
  };
}

/** The user an RPC acts as (Basic auth user, else the default user). */
export function rpcUser(ctx: EnvdContext, handler: HandlerContext): UserAccount {
  return requestUser(ctx, usernameFromAuthorization(handler.requestHeader.get("authorization") ?? undefined));
}

/** Keepalive interval a client asked for with `Keepalive-Ping-Interval` (seconds), clamped; default 50 s. */
export function keepaliveIntervalMs(handler: HandlerContext): number {
  const seconds = Number(handler.requestHeader.get("keepalive-ping-interval"));
  if (!Number.isFinite(seconds) || seconds <= 0) return 50_000;
  return Math.min(Math.max(seconds, 1), 600) * 1000;
}
