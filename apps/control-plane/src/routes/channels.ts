import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ChannelDelivery } from "@wrenn/db";
import type { AttemptResult } from "../channels/delivery.ts";
import type { ChannelsService, ChannelWithConfig } from "../channels/service.ts";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { formatId, parseIdOrNotFound } from "../ids.ts";
import type { RouteDeps } from "./deps.ts";

const ChannelSchema = z
  .object({
    id: z.string().openapi({ example: "ch-…" }),
    name: z.string(),
    provider: z.string().openapi({ example: "slack" }),
    events: z.array(z.string()),
    config: z
      .record(z.string(), z.string())
      .openapi({ description: "Non-secret fields in full; secret fields masked (••••, last 4 at most)" }),
    enabled: z.boolean(),
    disabled_reason: z.string().openapi({ description: "'' while enabled; 'user' or 'auto: …'" }),
    last_delivery: z
      .object({ status: z.enum(["delivered", "failed"]), at: z.string(), error: z.string() })
      .nullable(),
    consecutive_failures: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Channel");

const DeliverySchema = z
  .object({
    event_id: z.string(),
    event_type: z.string(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    last_error: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("ChannelDelivery");

const TestResultSchema = z
  .object({
    ok: z.boolean(),
    status: z
      .number()
      .int()
      .optional()
      .openapi({ description: "The service's HTTP status when it answered 2xx" }),
    error: z.string().optional().openapi({ description: "Why it failed (never contains the config)" }),
  })
  .openapi("ChannelTestResult");

const ConfigSchema = z
  .record(z.string(), z.string())
  .openapi({ description: "Provider fields (GET /v1/channels/providers)" });
const name = z.string().trim().min(1).max(100);
const events = z.array(z.string()).max(64);

const CreateBody = z
  .strictObject({
    name,
    provider: z.string().openapi({ example: "webhook" }),
    config: ConfigSchema,
    events: events.optional().openapi({ description: "Event types; default: all" }),
  })
  .openapi("CreateChannelRequest");
const UpdateBody = z
  .strictObject({ name: name.optional(), events: events.optional(), enabled: z.boolean().optional() })
  .openapi("UpdateChannelRequest");
const TestBody = z
  .strictObject({ provider: z.string(), config: ConfigSchema, name: name.optional() })
  .openapi("TestChannelRequest");

const idParam = z.object({ id: z.string().openapi({ example: "ch-…" }) });

function channelView({ channel: c, maskedConfig }: ChannelWithConfig) {
  return {
    id: formatId("channel", c.id),
    name: c.name,
    provider: c.provider,
    events: c.events,
    config: maskedConfig,
    enabled: c.enabled,
    disabled_reason: c.disabledReason,
    last_delivery:
      c.lastDeliveryStatus && c.lastDeliveryAt
        ? { status: c.lastDeliveryStatus, at: c.lastDeliveryAt.toISOString(), error: c.lastError }
        : null,
    consecutive_failures: c.consecutiveFailures,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}

function deliveryView(d: ChannelDelivery) {
  return {
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

function testView(r: AttemptResult) {
  return r.ok ? { ok: true, status: r.status } : { ok: false, error: r.error };
}

/**
 * `/v1/channels`: notification channels of the current team. Every member (and API key) may read;
 * creating, changing, testing and deleting need an admin or owner (for an API key: its creator's role).
 */
export function registerChannelRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { channels: ChannelsService },
): void {
  const { channels } = deps;
  const mw = [deps.mw.requireAPIKeyOrJWT];
  const common = { tags: ["channels"], security: keyOrJwtSecurity, middleware: mw };

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/channels/providers",
      summary: "The supported providers with their config fields, and the event types",
      responses: {
        200: jsonResponse(
          z.object({
            providers: z.array(
              z.object({
                id: z.string(),
                label: z.string(),
                fields: z.array(
                  z.object({
                    name: z.string(),
                    label: z.string(),
                    secret: z.boolean(),
                    required: z.boolean(),
                    description: z.string(),
                  }),
                ),
              }),
            ),
            events: z.array(z.object({ type: z.string(), title: z.string(), description: z.string() })),
          }),
          "The catalogue",
        ),
        ...errorResponses(401),
      },
    }),
    (c) => c.json(channels.catalog(), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/channels",
      summary: "List the team's channels (secrets masked) with their delivery status",
      responses: {
        200: jsonResponse(z.object({ channels: z.array(ChannelSchema) }), "The channels"),
        ...errorResponses(401, 403),
      },
    }),
    async (c) => c.json({ channels: (await channels.list(c.get("auth"))).map(channelView) }, 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/v1/channels",
      summary: "Create a channel (admin+); its config is encrypted at rest and never returned",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(ChannelSchema, "The channel"),
        ...errorResponses(400, 401, 403, 409),
      },
    }),
    async (c) => c.json(channelView(await channels.create(c.get("auth"), c.req.valid("json"))), 201),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/v1/channels/test",
      summary: "Send a test message with a config before saving it (admin+)",
      request: { body: jsonBody(TestBody) },
      responses: {
        200: jsonResponse(TestResultSchema, "Whether the service accepted it"),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => c.json(testView(await channels.testConfig(c.get("auth"), c.req.valid("json"))), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/channels/{id}",
      summary: "One channel",
      request: { params: idParam },
      responses: { 200: jsonResponse(ChannelSchema, "The channel"), ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const id = parseIdOrNotFound("channel", c.req.valid("param").id, "channel");
      return c.json(channelView(await channels.get(c.get("auth"), id)), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "patch",
      path: "/v1/channels/{id}",
      summary: "Rename, change events, disable or re-enable a channel (admin+)",
      request: { params: idParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(ChannelSchema, "The channel"),
        ...errorResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const id = parseIdOrNotFound("channel", c.req.valid("param").id, "channel");
      return c.json(channelView(await channels.update(c.get("auth"), id, c.req.valid("json"))), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "put",
      path: "/v1/channels/{id}/config",
      summary: "Replace config fields, e.g. rotate a webhook URL, token or signing secret (admin+)",
      request: { params: idParam, body: jsonBody(ConfigSchema) },
      responses: { 200: jsonResponse(ChannelSchema, "The channel"), ...errorResponses(400, 401, 403, 404) },
    }),
    async (c) => {
      const id = parseIdOrNotFound("channel", c.req.valid("param").id, "channel");
      return c.json(channelView(await channels.rotateConfig(c.get("auth"), id, c.req.valid("json"))), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/v1/channels/{id}/test",
      summary: "Send a test message through a saved channel (admin+)",
      request: { params: idParam },
      responses: {
        200: jsonResponse(TestResultSchema, "Whether the service accepted it"),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const id = parseIdOrNotFound("channel", c.req.valid("param").id, "channel");
      return c.json(testView(await channels.testSaved(c.get("auth"), id)), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/channels/{id}/deliveries",
      summary: "The channel's latest deliveries (attempts, status, last error), newest first",
      request: {
        params: idParam,
        query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      },
      responses: {
        200: jsonResponse(z.object({ deliveries: z.array(DeliverySchema) }), "Deliveries"),
        ...errorResponses(401, 403, 404),
      },
    }),
    async (c) => {
      const id = parseIdOrNotFound("channel", c.req.valid("param").id, "channel");
      const rows = await channels.deliveries(c.get("auth"), id, c.req.valid("query").limit);
      return c.json({ deliveries: rows.map(deliveryView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/v1/channels/{id}",
      summary: "Delete a channel (admin+)",
      request: { params: idParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404) },
    }),
    async (c) => {
      const id = parseIdOrNotFound("channel", c.req.valid("param").id, "channel");
      await channels.delete(c.get("auth"), id);
      return c.body(null, 204);
    },
  );
}
