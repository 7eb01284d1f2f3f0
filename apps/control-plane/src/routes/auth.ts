import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { clientIp } from "../http/middleware.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { SessionSchema, teamView, userView } from "../http/views.ts";
import { parseIdOrInvalid } from "../ids.ts";
import type { Session } from "../services/auth.ts";
import type { RouteDeps } from "./deps.ts";

const SignupBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).openapi({ example: "Ada Lovelace" }),
    email: z.email().max(254).openapi({ example: "ada@example.com" }),
    password: z.string().min(8).max(256).openapi({ example: "correct horse battery" }),
  })
  .openapi("SignupRequest");

const LoginBody = z
  .strictObject({
    email: z.email().max(254).openapi({ example: "ada@example.com" }),
    password: z.string().min(1).max(256),
  })
  .openapi("LoginRequest");

const ChangePasswordBody = z
  .strictObject({
    current_password: z.string().min(1).max(256).optional().openapi({
      description: "Required when the account has a password (accounts made through OAuth may have none)",
    }),
    new_password: z.string().min(8).max(256),
  })
  .openapi("ChangePasswordRequest");

const SwitchTeamBody = z
  .strictObject({ team_id: z.string().openapi({ example: "team-5d2e…" }) })
  .openapi("SwitchTeamRequest");

/** The `{token, user, team}` answer of signup, login and switch-team. */
export function sessionView(s: Session) {
  return { token: s.token, user: userView(s.user), team: teamView(s.team, s.role) };
}

/** `POST /v1/auth/signup`, `/login`, `/logout`, `/password`, `/switch-team`. */
export function registerAuthRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  const { auth } = deps.services;

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/signup",
      tags: ["auth"],
      summary: "Create an account and its default team",
      request: { body: jsonBody(SignupBody) },
      responses: {
        201: jsonResponse(SessionSchema, "Signed up and signed in"),
        ...errorResponses(400, 409, 429),
      },
    }),
    async (c) => {
      const s = await auth.signup(c.req.valid("json"), clientIp(c, deps.config.trustProxy));
      return c.json(sessionView(s), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/login",
      tags: ["auth"],
      summary: "Sign in with email and password",
      request: { body: jsonBody(LoginBody) },
      responses: {
        200: jsonResponse(SessionSchema, "Signed in"),
        ...errorResponses(400, 401, 429),
      },
    }),
    async (c) => {
      const s = await auth.login(c.req.valid("json"), clientIp(c, deps.config.trustProxy));
      return c.json(sessionView(s), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/logout",
      tags: ["auth"],
      summary: "Sign out: every session token of the user stops working (API keys are not affected)",
      security: jwtSecurity,
      middleware: [deps.mw.requireJWT],
      responses: { 204: { description: "Signed out" }, ...errorResponses(401) },
    }),
    async (c) => {
      await auth.logout(c.get("auth"));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/password",
      tags: ["auth"],
      summary: "Change the password; every other session is revoked and a new token is returned",
      security: jwtSecurity,
      middleware: [deps.mw.requireJWT],
      request: { body: jsonBody(ChangePasswordBody) },
      responses: {
        200: jsonResponse(SessionSchema, "Password changed; the new session"),
        ...errorResponses(400, 401, 403, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const s = await auth.changePassword(
        c.get("auth"),
        { currentPassword: body.current_password, newPassword: body.new_password },
        clientIp(c, deps.config.trustProxy),
      );
      return c.json(sessionView(s), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/switch-team",
      tags: ["auth"],
      summary: "Re-issue the session token for another team the user belongs to",
      security: jwtSecurity,
      middleware: [deps.mw.requireJWT],
      request: { body: jsonBody(SwitchTeamBody) },
      responses: {
        200: jsonResponse(SessionSchema, "New session in the chosen team"),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const teamId = parseIdOrInvalid("team", c.req.valid("json").team_id, "team_id");
      const s = await auth.switchTeam(c.get("auth"), teamId);
      return c.json(sessionView(s), 200);
    },
  );
}
