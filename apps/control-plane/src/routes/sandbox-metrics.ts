import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { parseIdOrNotFound } from "../ids.ts";
import { metricsRanges, type SandboxMetricsService } from "../services/sandbox-metrics.ts";
import type { RouteDeps } from "./deps.ts";

const MetricsSchema = z
  .object({
    range: z.enum(metricsRanges),
    tier: z
      .enum(["10m", "2h", "24h"])
      .openapi({ description: "Resolution: raw samples, 30 s or 5 min averages" }),
    points: z.array(
      z.object({
        timestamp: z.string(),
        cpu_percent: z.number().openapi({ description: "Of one host CPU: 200 = two vCPUs busy" }),
        memory_rss_bytes: z.number().int(),
        disk_bytes: z.number().int(),
      }),
    ),
  })
  .openapi("SandboxMetrics");

/** `GET /v1/sandboxes/{id}/metrics?range=…`. */
export function registerSandboxMetricsRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { metrics: SandboxMetricsService },
): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}/metrics",
      tags: ["sandboxes"],
      summary: "CPU, memory and disk samples (live while running, stored while paused; 404 once stopped)",
      security: keyOrJwtSecurity,
      middleware: [deps.mw.requireAPIKeyOrJWT],
      request: {
        params: z.object({ id: z.string() }),
        query: z.object({ range: z.enum(metricsRanges).optional() }),
      },
      responses: {
        200: jsonResponse(MetricsSchema, "Samples, oldest first"),
        ...errorResponses(400, 401, 403, 404, 503),
      },
    }),
    async (c) => {
      const id = parseIdOrNotFound("sandbox", c.req.valid("param").id, "sandbox");
      const m = await deps.metrics.get(c.get("auth"), id, c.req.valid("query").range ?? "5m");
      return c.json(
        {
          range: m.range,
          tier: m.tier,
          points: m.points.map((p) => ({
            timestamp: p.ts.toISOString(),
            cpu_percent: p.cpuPct,
            memory_rss_bytes: p.memBytes,
            disk_bytes: p.diskBytes,
          })),
        },
        200,
      );
    },
  );
}
