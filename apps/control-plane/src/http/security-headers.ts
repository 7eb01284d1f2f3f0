import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";

/**
 * The Content-Security-Policy of everything the control plane serves itself (API, `/docs`, the
 * dashboard). Scripts only from this origin (the Vite build and Swagger UI load external files, no
 * inline scripts); inline styles allowed because xterm.js and Swagger UI inject style elements;
 * images may be data:/blob: (charts, Swagger's icons); nothing may frame these pages.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Security headers on the control plane's own answers (sandbox ports served by the port proxy are
 * the user's and are answered before this runs): no MIME sniffing, no framing, no referrer, the CSP
 * above, and HSTS when the request came over TLS (directly, or per `X-Forwarded-Proto` from a
 * trusted proxy). CORS is separate and off unless configured (`cors.ts`).
 */
export function securityHeaders(options: { trustProxy: boolean }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const h = c.res.headers;
    try {
      h.set("X-Content-Type-Options", "nosniff");
      h.set("X-Frame-Options", "DENY");
      h.set("Referrer-Policy", "no-referrer");
      if (!h.has("Content-Security-Policy")) h.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
      const proto = options.trustProxy ? c.req.header("x-forwarded-proto") : undefined;
      if (new URL(c.req.url).protocol === "https:" || proto === "https") {
        h.set("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
      }
    } catch {
      // Immutable headers (a response passed through as is): left unchanged.
    }
  };
}
