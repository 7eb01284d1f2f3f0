import type { MiddlewareHandler } from "hono";
import type { CorsPolicy } from "../cors-origins.ts";
import type { AppEnv } from "./context.ts";

/** Paths a CORS policy applies to: the REST API and the E2B-compatible API, nothing else. */
const corsPath = /^\/(v1|e2b)(\/|$)/;

/**
 * Request headers allowed when a preflight does not name any. When it does, an allowed origin gets
 * the headers it asked for: SDKs add their own (`E2B-…`, tracing) and the origin is trusted anyway.
 */
const ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key, X-Request-Id";
const ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const EXPOSED_HEADERS = "Retry-After, X-Request-Id";
const PREFLIGHT_MAX_AGE_SEC = "600";

/**
 * CORS for `/v1` and `/e2b` per `policy`: answers preflights (`OPTIONS` with
 * `Access-Control-Request-Method`) with 204 itself, before authentication, and adds the allow
 * headers to actual answers. A disallowed origin gets no CORS headers (the browser then blocks the
 * read); `Vary: Origin` is set whenever the answer depends on the origin, so caches keep them apart.
 */
export function cors(policy: CorsPolicy): MiddlewareHandler<AppEnv> {
  if (policy.kind === "off") return (_c, next) => next();
  const allowedOrigin = (origin: string): string | undefined =>
    policy.kind === "any" ? "*" : policy.origins.has(origin) ? origin : undefined;

  return async (c, next) => {
    const origin = c.req.header("origin");
    if (!origin || !corsPath.test(c.req.path)) return next();
    const allowed = allowedOrigin(origin);
    const preflight = c.req.method === "OPTIONS" && c.req.header("access-control-request-method");
    if (preflight) {
      if (!allowed) {
        const res = c.json({ code: "permission_denied", message: "origin not allowed" }, 403);
        if (policy.kind === "exact") res.headers.set("Vary", "Origin");
        return res;
      }
      const res = new Response(null, { status: 204 });
      const h = res.headers;
      if (policy.kind === "exact") h.set("Vary", "Origin");
      h.append("Vary", "Access-Control-Request-Headers");
      setAllowOrigin(h, allowed, policy.kind === "exact");
      h.set("Access-Control-Allow-Methods", ALLOWED_METHODS);
      h.set(
        "Access-Control-Allow-Headers",
        c.req.header("access-control-request-headers") || ALLOWED_HEADERS,
      );
      h.set("Access-Control-Max-Age", PREFLIGHT_MAX_AGE_SEC);
      return res;
    }
    await next();
    try {
      const h = c.res.headers;
      if (policy.kind === "exact") h.append("Vary", "Origin");
      if (allowed) {
        setAllowOrigin(h, allowed, policy.kind === "exact");
        h.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
      }
    } catch {
      // Immutable headers (a response passed through as is): left unchanged.
    }
    return;
  };
}

function setAllowOrigin(h: Headers, origin: string, credentials: boolean): void {
  h.set("Access-Control-Allow-Origin", origin);
  if (credentials) h.set("Access-Control-Allow-Credentials", "true");
}
