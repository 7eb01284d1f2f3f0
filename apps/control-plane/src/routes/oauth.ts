import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../http/context.ts";
import { errorResponses } from "../http/openapi.ts";
import type { RouteDeps } from "./deps.ts";

const STATE_COOKIE = "wrenn_oauth_state";
const COOKIE_PATH = "/v1/auth/oauth";
const Params = z.object({ provider: z.string().openapi({ example: "github" }) });

/**
 * `GET /v1/auth/oauth/{provider}` (redirect to the provider with a signed state
 * cookie) and `/callback` (verify state, exchange the code, sign in, redirect
 * to the dashboard with the token in the URL fragment).
 */
export function registerOAuthRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  const { providers, state } = deps.oauth;
  const publicUrl = deps.config.publicUrl ?? "";
  const dashboardUrl = deps.config.dashboardUrl ?? publicUrl;
  const secure = publicUrl.startsWith("https://");
  const redirectUri = (name: string) => `${publicUrl}/v1/auth/oauth/${name}/callback`;
  const providerOf = (name: string) => {
    const p = providers.get(name);
    if (!p) throw errors.notFound(`OAuth provider '${name}' is not configured`);
    return p;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/auth/oauth/{provider}",
      tags: ["auth"],
      summary: "Start signing in with an OAuth provider (redirects)",
      request: { params: Params },
      responses: { 302: { description: "Redirect to the provider" }, ...errorResponses(404) },
    }),
    (c) => {
      const p = providerOf(c.req.valid("param").provider);
      const issued = state.issue();
      setCookie(c, STATE_COOKIE, issued.cookie, {
        path: COOKIE_PATH,
        httpOnly: true,
        secure,
        sameSite: "Lax",
        maxAge: 600,
      });
      return c.redirect(p.authorizationUrl(issued.state, redirectUri(p.name)), 302);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/auth/oauth/{provider}/callback",
      tags: ["auth"],
      summary: "OAuth callback: signs in (creating the account on first use) and redirects to the dashboard",
      request: {
        params: Params,
        query: z.object({
          code: z.string().optional(),
          state: z.string().optional(),
          error: z.string().optional(),
        }),
      },
      responses: {
        302: { description: "Redirect to the dashboard: `#token=…` on success, `?error=…` on failure" },
        ...errorResponses(404),
      },
    }),
    async (c) => {
      const p = providerOf(c.req.valid("param").provider);
      const q = c.req.valid("query");
      const cookie = getCookie(c, STATE_COOKIE);
      deleteCookie(c, STATE_COOKIE, { path: COOKIE_PATH });
      const fail = (reason: string) =>
        c.redirect(`${dashboardUrl}/login?error=${encodeURIComponent(reason)}`, 302);
      if (!state.verify(cookie, q.state)) return fail("invalid_state");
      if (q.error || !q.code) return fail("access_denied");
      try {
        const profile = await p.exchange(q.code, redirectUri(p.name));
        const session = await deps.services.auth.oauthLogin(p.name, profile);
        return c.redirect(`${dashboardUrl}/auth/callback#token=${encodeURIComponent(session.token)}`, 302);
      } catch (err) {
        c.get("log").warn({ err, provider: p.name }, "OAuth sign-in failed");
        return fail("oauth_failed");
      }
    },
  );
}
