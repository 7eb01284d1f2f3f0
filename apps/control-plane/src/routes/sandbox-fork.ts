import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { requireUserText } from "../http/user-text.ts";
import { parseIdOrNotFound } from "../ids.ts";
import { forkLimits, type SandboxForkService } from "../services/sandbox-fork.ts";
import { sandboxLimits } from "../services/sandbox-spec.ts";
import type { RouteDeps } from "./deps.ts";
import { SandboxSchema, sandboxView } from "./sandboxes.ts";

const ForkBody = z
  .strictObject({
    count: z
      .number()
      .int()
      .min(forkLimits.count.min)
      .max(forkLimits.count.max)
      .optional()
      .openapi({ description: `How many sandboxes to make (default 1, at most ${forkLimits.count.max})` }),
    timeout_sec: z
      .number()
      .int()
      .min(sandboxLimits.timeoutSec.min)
      .max(sandboxLimits.timeoutSec.max)
      .optional()
      .openapi({ description: "Inactivity auto-pause of the forks; default: the source's" }),
    metadata: z
      .record(z.string().max(256), z.string().max(1024))
      .refine((m) => Object.keys(m).length <= 64, "at most 64 metadata entries")
      .optional()
      .openapi({ description: "Metadata of the forks; default: the source's" }),
  })
  .openapi("ForkSandbox");

const ForkedSchema = z
  .object({
    sandboxes: z.array(
      SandboxSchema.extend({
        envd_access_token: z
          .string()
          .openapi({ description: "X-Access-Token for the fork's envd; shown only here" }),
      }),
    ),
  })
  .openapi("ForkedSandboxes");

function checkedMetadata(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(m).map(([k, v]) => [requireUserText(k, "metadata"), requireUserText(v, "metadata")]),
  );
}

/** `POST /v1/sandboxes/{id}/fork`: N new sandboxes continuing from a running one (API key or user session). */
export function registerSandboxForkRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { forks: SandboxForkService },
): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/fork",
      tags: ["sandboxes"],
      summary:
        "Fork a running sandbox: new sandboxes on its host that continue from its memory, processes and files (it keeps running)",
      security: keyOrJwtSecurity,
      middleware: [deps.mw.requireAPIKeyOrJWT],
      request: {
        params: z.object({ id: z.string().openapi({ example: "sb-…" }) }),
        body: { ...jsonBody(ForkBody), required: false },
      },
      responses: {
        201: jsonResponse(ForkedSchema, "The forks, running"),
        ...errorResponses(400, 401, 403, 404, 409, 429, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      const forks = await deps.forks.fork(
        c.get("auth"),
        parseIdOrNotFound("sandbox", c.req.valid("param").id, "sandbox"),
        {
          count: body.count,
          timeoutSec: body.timeout_sec,
          metadata: body.metadata && checkedMetadata(body.metadata),
        },
      );
      return c.json(
        {
          sandboxes: forks.map((f) => ({ ...sandboxView(f.sandbox), envd_access_token: f.envdAccessToken })),
        },
        201,
      );
    },
  );
}
