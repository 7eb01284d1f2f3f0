import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { AuditLogPageSchema, auditPageView } from "../http/views.ts";
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
  scope: multi
    .pipe(z.array(z.enum(["team", "admin"])))
    .openapi({ description: "Filter: team and/or admin (narrows what the caller's role may see)" }),
  status: multi
    .pipe(z.array(z.enum(["success", "info", "warning", "error"])))
    .openapi({ description: "Filter: one or more statuses" }),
  actor: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: "Filter: the actor's exact id, or part of their name (case-insensitive)" }),
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Filter: events at or after this instant (ISO 8601)" }),
  until: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Filter: events before this instant (ISO 8601)" }),
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
        200: jsonResponse(AuditLogPageSchema, "One page of events"),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      if (q.since && q.until && Date.parse(q.since) >= Date.parse(q.until)) {
        throw errors.invalidArgument("since must be before until");
      }
      const page = await deps.services.audit.list(c.get("auth"), {
        resourceTypes: q.resource_type,
        actions: q.action,
        scopes: q.scope,
        statuses: q.status,
        actor: q.actor,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        before: q.cursor ? parseIdOrInvalid("auditLog", q.cursor, "cursor") : undefined,
        limit: q.limit,
      });
      return c.json(auditPageView(page), 200);
    },
  );
}
