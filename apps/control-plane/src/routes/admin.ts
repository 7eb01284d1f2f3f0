import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { SandboxCounts } from "@wrenn/db";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import {
  AuditLogPageSchema,
  auditPageView,
  TeamSchema,
  teamView,
  UserSchema,
  userView,
} from "../http/views.ts";
import { formatId, parseIdOrInvalid, parseIdOrNotFound } from "../ids.ts";
import { ADMIN_LIST_MAX, type AdminService } from "../services/admin.ts";
import type { RouteDeps } from "./deps.ts";
import { HostSchema, hostView } from "./hosts.ts";

const Counts = z
  .object({
    running: z.number().int(),
    paused: z.number().int(),
    live: z.number().int().openapi({ description: "Every sandbox not yet stopped" }),
  })
  .openapi("SandboxCounts");
const countsView = (c: SandboxCounts) => ({ running: c.running, paused: c.paused, live: c.live });

const AdminHostSchema = HostSchema.extend({
  team_name: z.string().nullable().openapi({ description: "Owner team of a BYOC host" }),
  sandboxes: Counts,
}).openapi("AdminHost");

const AdminTeamSchema = TeamSchema.extend({
  member_count: z.number().int(),
  sandboxes: Counts,
}).openapi("AdminTeam");

const AdminUserSchema = UserSchema.extend({
  team_count: z.number().int(),
  has_password: z.boolean().openapi({ description: "False for accounts that sign in only through OAuth" }),
}).openapi("AdminUser");

const ListQuery = z.object({
  q: z.string().max(200).optional().openapi({ description: "Case-insensitive substring filter" }),
  limit: z.coerce.number().int().min(1).max(ADMIN_LIST_MAX).optional(),
});

/** Platform-admin routes (`requireAdmin`, checked against the database; changes are audited). */
export function registerAdminRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { admin: AdminService },
): void {
  const base = { tags: ["admin"], security: jwtSecurity, middleware: [deps.mw.requireAdmin] };

  app.openapi(
    createRoute({
      ...base,
      method: "put",
      path: "/v1/admin/teams/{id}/byoc",
      summary: "Enable or disable bring-your-own-compute for a team (platform admin)",
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

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/admin/hosts",
      summary: "Every host, platform and BYOC, with status, capacity, certificate expiry and sandbox counts",
      responses: {
        200: jsonResponse(z.object({ hosts: z.array(AdminHostSchema) }), "Hosts, oldest first"),
        ...errorResponses(401, 403),
      },
    }),
    async (c) => {
      const hosts = await deps.admin.hosts(c.get("auth"));
      return c.json(
        {
          hosts: hosts.map((h) => ({
            ...hostView(h),
            team_name: h.teamName,
            sandboxes: countsView(h.sandboxes),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/admin/teams",
      summary: "Every active team with its member and sandbox counts, newest first",
      request: { query: ListQuery },
      responses: {
        200: jsonResponse(z.object({ teams: z.array(AdminTeamSchema) }), "Teams"),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const teams = await deps.admin.teams(c.get("auth"), { query: q.q, limit: q.limit });
      return c.json(
        {
          teams: teams.map((t) => ({
            ...teamView(t),
            member_count: t.memberCount,
            sandboxes: countsView(t.sandboxes),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/admin/users",
      summary: "Every user with their admin flag and team count, newest first",
      request: { query: ListQuery },
      responses: {
        200: jsonResponse(z.object({ users: z.array(AdminUserSchema) }), "Users"),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const users = await deps.admin.users(c.get("auth"), { query: q.q, limit: q.limit });
      return c.json(
        {
          users: users.map((u) => ({
            id: formatId("user", u.id),
            email: u.email,
            name: u.name,
            is_admin: u.isAdmin,
            created_at: u.createdAt.toISOString(),
            team_count: u.teamCount,
            has_password: u.hasPassword,
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/admin/audit-logs",
      summary: "Platform-wide audit events (no team: admin flag changes), newest first",
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(200).optional(),
          cursor: z.string().optional().openapi({ description: "next_cursor of the previous page" }),
        }),
      },
      responses: {
        200: jsonResponse(AuditLogPageSchema, "One page of events"),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await deps.admin.auditLogs(c.get("auth"), {
        limit: q.limit ?? 50,
        cursor: q.cursor ? parseIdOrInvalid("auditLog", q.cursor, "cursor") : undefined,
      });
      return c.json(auditPageView(page), 200);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "put",
      path: "/v1/admin/users/{id}/admin",
      summary: "Grant or remove a user's platform-admin flag (not your own removal; audited)",
      request: {
        params: z.object({ id: z.string().openapi({ example: "usr-…" }) }),
        body: jsonBody(z.strictObject({ is_admin: z.boolean() }).openapi("SetAdminRequest")),
      },
      responses: { 200: jsonResponse(UserSchema, "The user"), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const id = parseIdOrNotFound("user", c.req.valid("param").id, "user");
      const user = await deps.admin.setAdmin(c.get("auth"), id, c.req.valid("json").is_admin);
      return c.json(userView(user), 200);
    },
  );
}
