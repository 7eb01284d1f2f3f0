import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { SandboxProcessesService } from "../services/sandbox-processes.ts";
import type { RouteDeps } from "./deps.ts";

const ProcessSchema = z
  .object({
    pid: z.number().int(),
    tag: z.string().nullable(),
    cmd: z.string(),
    args: z.array(z.string()),
    envs: z.record(z.string(), z.string()),
    cwd: z.string(),
    pty: z.boolean().openapi({ description: "True for terminal sessions" }),
  })
  .openapi("Process");

/** `GET /v1/sandboxes/{id}/processes`, `DELETE /v1/sandboxes/{id}/processes/{process}`. */
export function registerSandboxProcessRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { processes: SandboxProcessesService },
): void {
  const mw = [deps.mw.requireAPIKeyOrJWT];
  const sandboxId = (wire: string) => parseIdOrNotFound("sandbox", wire, "sandbox");

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}/processes",
      tags: ["processes"],
      summary: "Processes envd tracks in the sandbox (background commands and terminals)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: z.object({ id: z.string() }) },
      responses: {
        200: jsonResponse(z.object({ processes: z.array(ProcessSchema) }), "Processes"),
        ...errorResponses(401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const processes = await deps.processes.list(c.get("auth"), sandboxId(c.req.valid("param").id));
      return c.json({ processes }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sandboxes/{id}/processes/{process}",
      tags: ["processes"],
      summary: "Signal a process chosen by pid or tag (SIGKILL unless ?signal=SIGTERM)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: {
        params: z.object({ id: z.string(), process: z.string().openapi({ description: "pid or tag" }) }),
        query: z.object({ signal: z.enum(["SIGKILL", "SIGTERM"]).optional() }),
      },
      responses: { 204: { description: "Signalled" }, ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { id, process } = c.req.valid("param");
      await deps.processes.kill(
        c.get("auth"),
        sandboxId(id),
        process,
        c.req.valid("query").signal ?? "SIGKILL",
      );
      return c.body(null, 204);
    },
  );
}
