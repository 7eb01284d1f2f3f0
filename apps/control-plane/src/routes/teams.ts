import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { MemberSchema, memberView, RoleSchema, TeamSchema, teamView } from "../http/views.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

const TeamName = z.string().trim().min(1).max(100).openapi({ example: "Research" });
const TeamParams = z.object({ id: z.string().openapi({ example: "team-…" }) });
const MemberParams = TeamParams.extend({ userId: z.string().openapi({ example: "usr-…" }) });
const NameBody = z.strictObject({ name: TeamName }).openapi("TeamNameRequest");
const AddMemberBody = z
  .strictObject({ email: z.email().max(254), role: RoleSchema.default("member") })
  .openapi("AddMemberRequest");
const RoleBody = z.strictObject({ role: RoleSchema }).openapi("UpdateRoleRequest");

/** `/v1/teams…`: teams, members, roles, leave. */
export function registerTeamRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  const teams = deps.services.teams;
  const mw = [deps.mw.requireJWT];
  const base = { tags: ["teams"], security: jwtSecurity, middleware: mw };
  const teamId = (wire: string) => parseIdOrNotFound("team", wire, "team");
  const userId = (wire: string) => parseIdOrNotFound("user", wire, "member");

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/teams",
      summary: "List the teams the caller belongs to",
      responses: {
        200: jsonResponse(z.object({ teams: z.array(TeamSchema) }), "Teams with the caller's role"),
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const list = await teams.list(c.get("auth"));
      return c.json({ teams: list.map((m) => teamView(m.team, m.role, m.isDefault)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "post",
      path: "/v1/teams",
      summary: "Create a team (the caller becomes its owner)",
      request: { body: jsonBody(NameBody) },
      responses: { 201: jsonResponse(TeamSchema, "The team"), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const m = await teams.create(c.get("auth"), c.req.valid("json").name);
      return c.json(teamView(m.team, m.role, m.isDefault), 201);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/teams/{id}",
      summary: "Get a team the caller belongs to",
      request: { params: TeamParams },
      responses: { 200: jsonResponse(TeamSchema, "The team"), ...errorResponses(401, 404) },
    }),
    async (c) => {
      const m = await teams.membership(c.get("auth"), teamId(c.req.valid("param").id));
      return c.json(teamView(m.team, m.role, m.isDefault), 200);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "patch",
      path: "/v1/teams/{id}",
      summary: "Rename a team (admin or owner)",
      request: { params: TeamParams, body: jsonBody(NameBody) },
      responses: { 200: jsonResponse(TeamSchema, "The renamed team"), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const m = await teams.rename(c.get("auth"), teamId(c.req.valid("param").id), c.req.valid("json").name);
      return c.json(teamView(m.team, m.role, m.isDefault), 200);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "delete",
      path: "/v1/teams/{id}",
      summary: "Delete a team (owner only; soft delete, the slug stays reserved)",
      request: { params: TeamParams },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      await teams.delete(c.get("auth"), teamId(c.req.valid("param").id));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/v1/teams/{id}/members",
      summary: "List a team's members",
      request: { params: TeamParams },
      responses: {
        200: jsonResponse(z.object({ members: z.array(MemberSchema) }), "Members, owners first"),
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const list = await teams.members(c.get("auth"), teamId(c.req.valid("param").id));
      return c.json({ members: list.map(memberView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "post",
      path: "/v1/teams/{id}/members",
      summary: "Add an existing user by email (admin or owner; only owners add owners)",
      request: { params: TeamParams, body: jsonBody(AddMemberBody) },
      responses: {
        201: jsonResponse(MemberSchema, "The new member"),
        ...errorResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const { email, role } = c.req.valid("json");
      const m = await teams.addMember(c.get("auth"), teamId(c.req.valid("param").id), email, role);
      return c.json(memberView(m), 201);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "patch",
      path: "/v1/teams/{id}/members/{userId}",
      summary: "Change a member's role (admin or owner; the last owner cannot be demoted)",
      request: { params: MemberParams, body: jsonBody(RoleBody) },
      responses: { 204: { description: "Updated" }, ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      await teams.updateRole(c.get("auth"), teamId(p.id), userId(p.userId), c.req.valid("json").role);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "delete",
      path: "/v1/teams/{id}/members/{userId}",
      summary: "Remove a member (admin or owner; owners only by owners; never the last owner)",
      request: { params: MemberParams },
      responses: { 204: { description: "Removed" }, ...errorResponses(401, 403, 404, 409) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      await teams.removeMember(c.get("auth"), teamId(p.id), userId(p.userId));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "post",
      path: "/v1/teams/{id}/leave",
      summary: "Leave a team (the last owner cannot)",
      request: { params: TeamParams },
      responses: { 204: { description: "Left" }, ...errorResponses(401, 404, 409) },
    }),
    async (c) => {
      await teams.leave(c.get("auth"), teamId(c.req.valid("param").id));
      return c.body(null, 204);
    },
  );
}
