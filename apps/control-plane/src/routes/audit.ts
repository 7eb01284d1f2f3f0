import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { AuditLogSchema, auditView } from "../http/views.ts";
import { parseIdOrInvalid } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

/** Accepts `a,b` and repeated parameters alike. */
const multi = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) =>
    (Array.isArray(v) ? v : v ? [v] : [])
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean),
  );

const Query = z.strictObject({
  resource_type: multi.openapi({
    description: "Filter: one or more resource types (comma-separated or repeated)",
  }),
  action: multi.openapi({ description: "Filter: one or more actions (comma-separated or repeated)" }),
  cursor: z.string().optional().openapi({ description: "next_cursor of the previous page" }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** `GET /v1/audit-logs`. */
export function registerAuditRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/audit-logs",
      tags: ["audit"],
      summary: "The current team's audit trail, newest first (members: team events; admins/owners: all)",
      security: jwtSecurity,
      middleware: [deps.mw.requireJWT],
      request: { query: Query },
      responses: {
        200: jsonResponse(
          z.object({ items: z.array(AuditLogSchema), next_cursor: z.string().nullable() }),
          "One page of events",
        ),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await deps.services.audit.list(c.get("auth"), {
        resourceTypes: q.resource_type,
        actions: q.action,
        before: q.cursor ? parseIdOrInvalid("auditLog", q.cursor, "cursor") : undefined,
        limit: q.limit,
      });
      return c.json(
        { items: page.items.map(auditView), next_cursor: page.nextCursor ? `evt-${page.nextCursor}` : null },
        200,
      );
    },
  );
}
