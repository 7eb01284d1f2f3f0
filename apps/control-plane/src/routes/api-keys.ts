import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { e2bFormOfApiKey } from "../auth/api-keys.ts";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { ApiKeySchema, apiKeyView } from "../http/views.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

const CreateBody = z
  .strictObject({ name: z.string().trim().min(1).max(100).openapi({ example: "ci" }) })
  .openapi("CreateApiKeyRequest");

const CreatedSchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: "The API key. Shown only in this response.", example: "wrn_…" }),
  e2b_key: z.string().openapi({
    description:
      "The same key in E2B's format (e2b_ + hex), for the official e2b SDK's E2B_API_KEY. Shown only in this response.",
    example: "e2b_…",
  }),
}).openapi("CreatedApiKey");

/** `GET|POST /v1/api-keys`, `DELETE /v1/api-keys/{id}` (current team, user session). */
export function registerApiKeyRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  const apiKeys = deps.services.apiKeys;
  const mw = [deps.mw.requireJWT];

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/api-keys",
      tags: ["api-keys"],
      summary: "List the current team's API keys",
      security: jwtSecurity,
      middleware: mw,
      responses: {
        200: jsonResponse(z.object({ api_keys: z.array(ApiKeySchema) }), "The keys (never the secret)"),
        ...errorResponses(401, 403),
      },
    }),
    async (c) => {
      const keys = await apiKeys.list(c.get("auth"));
      return c.json({ api_keys: keys.map((k) => apiKeyView(k)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/api-keys",
      tags: ["api-keys"],
      summary: "Create an API key for the current team (the key is shown once)",
      security: jwtSecurity,
      middleware: mw,
      request: { body: jsonBody(CreateBody) },
      responses: { 201: jsonResponse(CreatedSchema, "The new key"), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const { key, row, creator } = await apiKeys.create(c.get("auth"), c.req.valid("json").name);
      return c.json({ ...apiKeyView(row, creator), key, e2b_key: e2bFormOfApiKey(key) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/api-keys/{id}",
      tags: ["api-keys"],
      summary: "Delete an API key; it stops working immediately",
      security: jwtSecurity,
      middleware: mw,
      request: { params: z.object({ id: z.string().openapi({ example: "key-…" }) }) },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const id = parseIdOrNotFound("apiKey", c.req.valid("param").id, "API key");
      await apiKeys.delete(c.get("auth"), id);
      return c.body(null, 204);
    },
  );
}
