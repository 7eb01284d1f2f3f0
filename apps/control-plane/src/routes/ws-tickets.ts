import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { parseIdOrNotFound } from "../ids.ts";
import { WS_TICKET_TTL_SEC, type WsTicketsService } from "../services/ws-tickets.ts";
import type { RouteDeps } from "./deps.ts";

const TicketRequest = z
  .strictObject({ sandbox_id: z.string().openapi({ example: "sb-…" }) })
  .openapi("WsTicketRequest");

const TicketSchema = z
  .object({
    ticket: z.string().openapi({ example: "wst_…" }),
    expires_at: z.string().openapi({ description: "ISO 8601; the ticket is refused after this" }),
  })
  .openapi("WsTicket");

/** `POST /v1/ws-tickets`: a single-use ticket for a sandbox WebSocket (for browsers, which cannot send headers). */
export function registerWsTicketRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { tickets: WsTicketsService },
): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/ws-tickets",
      tags: ["streams"],
      summary: "Get a single-use ticket for a sandbox WebSocket",
      description: [
        `Browsers cannot set headers on a WebSocket: open \`/v1/sandboxes/{id}/pty\`, \`/exec/stream\` or`,
        "`/processes/{process}/stream` with `?ticket=wst_…` instead. A ticket is bound to the caller, their team",
        `and the sandbox, works once, and expires after ${WS_TICKET_TTL_SEC} s.`,
      ].join(" "),
      security: keyOrJwtSecurity,
      middleware: [deps.mw.requireAPIKeyOrJWT],
      request: { body: jsonBody(TicketRequest) },
      responses: {
        201: jsonResponse(TicketSchema, "The ticket"),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const id = parseIdOrNotFound("sandbox", c.req.valid("json").sandbox_id, "sandbox");
      const issued = await deps.tickets.issue(c.get("auth"), id);
      return c.json({ ticket: issued.ticket, expires_at: issued.expiresAt.toISOString() }, 201);
    },
  );
}
