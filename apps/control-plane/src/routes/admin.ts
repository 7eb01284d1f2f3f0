import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { TeamSchema, teamView } from "../http/views.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

/** Platform-admin routes (`requireAdmin`, checked against the database). */
export function registerAdminRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/admin/teams/{id}/byoc",
      tags: ["admin"],
      summary: "Enable or disable bring-your-own-compute for a team (platform admin)",
      security: jwtSecurity,
      middleware: [deps.mw.requireAdmin],
      request: {
        params: z.object({ id: z.string() }),
        body: jsonBody(z.strictObject({ is_byoc: z.boolean() }).openapi("SetByocRequest")),
      },
      responses: { 200: jsonResponse(TeamSchema, "The team"), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const id = parseIdOrNotFound("team", c.req.valid("param").id, "team");
      const team = await deps.services.teams.setByoc(c.get("auth"), id, c.req.valid("json").is_byoc);
      return c.json(teamView(team), 200);
    },
  );
}
