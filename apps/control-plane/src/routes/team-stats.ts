import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { TeamUsage } from "@wrenn/db";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import type { TeamStatsService } from "../services/team-stats.ts";
import { statsRangeNames } from "../stats/ranges.ts";
import type { RouteDeps } from "./deps.ts";

const Usage = z
  .object({
    running: z.number().int(),
    paused: z.number().int(),
    vcpus_running: z.number().int(),
    memory_mb_running: z.number().int(),
  })
  .openapi("TeamUsage");

const Point = z
  .object({
    t: z.string().openapi({ description: "Start of the bucket (ISO 8601)" }),
    running: z.number().int(),
    paused: z.number().int(),
    vcpus: z.number().int().openapi({ description: "vCPUs of running sandboxes" }),
    memory_mb: z.number().int().openapi({ description: "Memory of running sandboxes" }),
  })
  .openapi("TeamUsagePoint");

const StatsSchema = z
  .object({
    range: z.enum(statsRangeNames),
    current: Usage,
    peak: Usage.openapi({ description: "Highest value of each field over the range" }),
    series: z.array(Point),
  })
  .openapi("TeamStats");

const usageView = (u: TeamUsage) => ({
  running: u.running,
  paused: u.paused,
  vcpus_running: u.vcpus,
  memory_mb_running: u.memoryMb,
});

/**
 * `GET /v1/sandboxes/stats`. Register before the `/v1/sandboxes/{id}` routes: `stats` is not
 * a sandbox id.
 */
export function registerTeamStatsRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { teamStats: TeamStatsService },
): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/stats",
      tags: ["sandboxes"],
      summary: "The team's sandbox usage now, its peak, and a series over a time range",
      description:
        "Sampled every 10 s and kept 60 days. The series has ≤ 300 evenly spaced buckets (the highest sample in each): 5m → 10 s, 1h → 15 s, 6h → 90 s, 24h → 5 min, 30d → 3 h.",
      security: keyOrJwtSecurity,
      middleware: [deps.mw.requireAPIKeyOrJWT],
      request: {
        query: z.object({ range: z.enum(statsRangeNames).default("1h").openapi({ example: "1h" }) }),
      },
      responses: { 200: jsonResponse(StatsSchema, "Team stats"), ...errorResponses(400, 401, 403) },
    }),
    async (c) => {
      const s = await deps.teamStats.stats(c.get("auth"), c.req.valid("query").range);
      return c.json(
        {
          range: s.range,
          current: usageView(s.current),
          peak: usageView(s.peak),
          series: s.series.map((p) => ({
            t: p.t.toISOString(),
            running: p.running,
            paused: p.paused,
            vcpus: p.vcpus,
            memory_mb: p.memoryMb,
          })),
        },
        200,
      );
    },
  );
}
