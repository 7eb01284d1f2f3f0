import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { formatId } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

const SearchResult = z
  .object({ id: z.string(), email: z.string(), name: z.string() })
  .openapi("UserSearchResult");

/** `GET /v1/users/search?email=<prefix>`. */
export function registerUserRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/users/search",
      tags: ["users"],
      summary: "Find users to add as members: email prefix among your teams' members, or an exact email",
      description:
        "Matches (up to 10) are users whose email starts with `email` (at least 3 characters, case-insensitive) and who share a team with the caller, plus the user whose email is exactly `email`. Other accounts are never listed.",
      security: jwtSecurity,
      middleware: [deps.mw.requireJWT],
      request: { query: z.strictObject({ email: z.string().max(254).openapi({ example: "ada" }) }) },
      responses: {
        200: jsonResponse(z.object({ users: z.array(SearchResult) }), "Up to 10 matches"),
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const hits = await deps.services.users.search(c.get("auth"), c.req.valid("query").email);
      return c.json(
        { users: hits.map((u) => ({ id: formatId("user", u.id), email: u.email, name: u.name })) },
        200,
      );
    },
  );
}
