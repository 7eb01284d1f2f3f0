import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { PLATFORM_TEAM_ID, type Template } from "@wrenn/db";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity, keyOrJwtSecurity } from "../http/openapi.ts";
import { formatId, parseIdOrInvalid } from "../ids.ts";
import type { SnapshotsService } from "../services/snapshots.ts";
import type { RouteDeps } from "./deps.ts";

const types = ["snapshot", "image"] as const;

/** A template on the wire. */
export const TemplateSchema = z
  .object({
    id: z.string().openapi({ example: "tpl-5d2e…" }),
    name: z.string().openapi({ example: "my-env" }),
    type: z.enum(types).openapi({
      description: "`snapshot`: RAM + disk (starts where it was captured); `image`: a flattened disk (boots)",
    }),
    team_id: z.string(),
    platform: z.boolean().openapi({ description: "Owned by the platform, visible to every team" }),
    vcpus: z.number().int(),
    memory_mb: z.number().int(),
    size_bytes: z.number().int(),
    host_id: z.string().nullable().openapi({ description: "Host holding its files; null when any host can" }),
    created_at: z.string(),
  })
  .openapi("Template");

/** The wire form of a template row. */
export function templateView(t: Template): z.infer<typeof TemplateSchema> {
  return {
    id: formatId("template", t.id),
    name: t.name,
    type: t.type,
    team_id: formatId("team", t.teamId),
    platform: t.teamId === PLATFORM_TEAM_ID,
    vcpus: t.vcpus,
    memory_mb: t.memoryMb,
    size_bytes: t.sizeBytes,
    host_id: t.hostId ? formatId("host", t.hostId) : null,
    created_at: t.createdAt.toISOString(),
  };
}

const CreateBody = z
  .strictObject({
    sandbox_id: z.string().openapi({ example: "sb-…" }),
    name: z
      .string()
      .optional()
      .openapi({ example: "my-env", description: "Generated when absent; an existing name is overwritten" }),
    type: z.enum(types).optional().openapi({
      description: "`snapshot` (default; the sandbox keeps running) or `image` (the sandbox is destroyed)",
    }),
  })
  .openapi("CreateSnapshotRequest");

const NameParam = z.object({ name: z.string().openapi({ example: "my-env" }) });
const TypeQuery = z.object({ type: z.enum(types).optional() });
const TemplateList = z.object({ templates: z.array(TemplateSchema) }).openapi("TemplateList");

/** `/v1/snapshots`: templates of the caller's team plus the platform's (API key or user session). */
export function registerSnapshotRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { snapshots: SnapshotsService },
): void {
  const snapshots = deps.snapshots;
  const mw = [deps.mw.requireAPIKeyOrJWT];

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/snapshots",
      tags: ["snapshots"],
      summary: "Capture a running sandbox as a template (new sandboxes start from it by name)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(TemplateSchema, "The template"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const template = await snapshots.create(c.get("auth"), {
        sandboxId: parseIdOrInvalid("sandbox", body.sandbox_id, "sandbox_id"),
        name: body.name,
        type: body.type,
      });
      return c.json(templateView(template), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/snapshots",
      tags: ["snapshots"],
      summary: "List the platform's templates and the team's",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { query: TypeQuery },
      responses: { 200: jsonResponse(TemplateList, "Templates"), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const list = await snapshots.list(c.get("auth"), c.req.valid("query").type);
      return c.json({ templates: list.map(templateView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/snapshots/{name}",
      tags: ["snapshots"],
      summary: "One template by name (the team's own first, then the platform's)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: NameParam },
      responses: { 200: jsonResponse(TemplateSchema, "The template"), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => c.json(templateView(await snapshots.get(c.get("auth"), c.req.valid("param").name)), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/snapshots/{name}",
      tags: ["snapshots"],
      summary: "Delete a template and its files on every host (platform templates: admins only)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: NameParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      await snapshots.delete(c.get("auth"), c.req.valid("param").name);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/admin/templates",
      tags: ["admin"],
      summary: "Every template of every team (platform admin)",
      security: jwtSecurity,
      middleware: [deps.mw.requireAdmin],
      responses: { 200: jsonResponse(TemplateList, "Templates"), ...errorResponses(401, 403) },
    }),
    async (c) => c.json({ templates: (await snapshots.listAll()).map(templateView) }, 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/admin/templates/{name}",
      tags: ["admin"],
      summary: "Delete a platform template (or, with team_id, a team's) on every host (platform admin)",
      security: jwtSecurity,
      middleware: [deps.mw.requireAdmin],
      request: {
        params: NameParam,
        query: z.object({
          team_id: z.string().optional().openapi({ description: "Owner team; default: the platform" }),
        }),
      },
      responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const teamWire = c.req.valid("query").team_id;
      await snapshots.adminDelete(
        c.get("auth"),
        c.req.valid("param").name,
        teamWire ? parseIdOrInvalid("team", teamWire, "team_id") : undefined,
      );
      return c.body(null, 204);
    },
  );
}
