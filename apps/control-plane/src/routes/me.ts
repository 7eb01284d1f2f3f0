import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { RoleSchema, TeamSchema, teamView, UserSchema, userView } from "../http/views.ts";
import { formatId } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

const MeSchema = z
  .object({
    user: UserSchema.nullable().openapi({ description: "The user; for an API key, the user who created it" }),
    team: TeamSchema,
    role: RoleSchema.nullable().openapi({ description: "The user's role in the team (null for API keys)" }),
    auth: z.object({
      type: z.enum(["jwt", "api_key"]),
      api_key: z.object({ id: z.string(), name: z.string() }).optional(),
    }),
  })
  .openapi("Me");

/** `GET /v1/me`. */
export function registerMeRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/me",
      tags: ["auth"],
      summary: "Who am I: the caller's user, team and role, as the database says now",
      security: keyOrJwtSecurity,
      middleware: [deps.mw.requireAPIKeyOrJWT],
      responses: { 200: jsonResponse(MeSchema, "The caller"), ...errorResponses(401, 403) },
    }),
    async (c) => {
      const auth = c.get("auth");
      const { team, role, user } = await deps.services.users.whoAmI(auth);
      return c.json(
        {
          user: user ? userView(user) : null,
          team: teamView(team, role ?? undefined),
          role,
          auth: {
            type: auth.kind,
            ...(auth.apiKey
              ? { api_key: { id: formatId("apiKey", auth.apiKey.id), name: auth.apiKey.name } }
              : {}),
          },
        },
        200,
      );
    },
  );
}
