import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, jwtSecurity } from "../http/openapi.ts";
import { parseIdOrNotFound } from "../ids.ts";
import { PORT_TICKET_PARAM, PORT_TICKET_TTL_SEC, type PortTicketsService } from "../services/port-tickets.ts";
import type { RouteDeps } from "./deps.ts";

const TicketRequest = z
  .strictObject({
    sandbox_id: z.string().openapi({ example: "sb-…" }),
    port: z.number().int().min(1).max(65_535).openapi({ example: 3000 }),
  })
  .openapi("PortTicketRequest");

const TicketSchema = z
  .object({
    ticket: z.string().openapi({ example: "wpt_…" }),
    param: z
      .literal(PORT_TICKET_PARAM)
      .openapi({ description: "The query parameter to carry the ticket in" }),
    expires_at: z.string().openapi({ description: "ISO 8601; the ticket is refused after this" }),
  })
  .openapi("PortTicket");

/** `POST /v1/port-tickets`: a single-use ticket that opens a sandbox port in a browser tab. */
export function registerPortTicketRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { portTickets: PortTicketsService },
): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/port-tickets",
      tags: ["sandboxes"],
      summary: "Get a single-use ticket to open a sandbox port in a browser",
      description: [
        `Open \`{port}-{sandboxId}.{proxy domain}/…?${PORT_TICKET_PARAM}=wpt_…\` in a browser: the port proxy`,
        "consumes the ticket, sets an HttpOnly, host-only session cookie for that port's host and redirects",
        "(303) to the same URL without the ticket. The ticket is bound to the signed-in user, their team, the",
        `sandbox and the port, works once, and expires after ${PORT_TICKET_TTL_SEC} s.`,
      ].join(" "),
      security: jwtSecurity,
      middleware: [deps.mw.requireJWT],
      request: { body: jsonBody(TicketRequest) },
      responses: {
        201: jsonResponse(TicketSchema, "The ticket"),
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const id = parseIdOrNotFound("sandbox", body.sandbox_id, "sandbox");
      const issued = await deps.portTickets.issue(c.get("auth"), id, body.port);
      return c.json(
        { ticket: issued.ticket, param: PORT_TICKET_PARAM, expires_at: issued.expiresAt.toISOString() },
        201,
      );
    },
  );
}
