import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { type Build, type BuildLog, PLATFORM_TEAM_ID } from "@wrenn/db";
import { streamSSE } from "hono/streaming";
import type { BuildScope, BuildsService } from "../builds/service.ts";
import type { BuildSpec } from "../builds/steps.ts";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonResponse, jwtSecurity, keyOrJwtSecurity } from "../http/openapi.ts";
import { formatId, parseIdOrNotFound } from "../ids.ts";
import { readSubmission, SubmitBody, SubmitForm } from "./build-submission.ts";
import type { RouteDeps } from "./deps.ts";

/** Re-exported for app.ts, which gives build uploads their own body limit. */
export { buildsBodyLimit, buildUploadPath } from "./build-submission.ts";

const statuses = ["queued", "building", "ready", "error", "cancelled"] as const;

const StepProgressSchema = z.object({
  index: z.number().int(),
  description: z.string().openapi({ example: "RUN pip install flask" }),
  status: z.enum(["pending", "running", "done", "cached", "failed", "skipped"]),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  exit_code: z.number().int().nullable(),
});

/** A build on the wire. */
export const BuildSchema = z
  .object({
    id: z.string().openapi({ example: "bld-1c0e…" }),
    name: z.string().openapi({ description: "Template the build makes", example: "my-env" }),
    team_id: z.string(),
    platform: z.boolean(),
    base_template: z.string(),
    source: z.enum(["recipe", "dockerfile", "steps"]),
    status: z.enum(statuses),
    current_step: z.number().int().openapi({ description: "Steps finished (cached ones included)" }),
    total_steps: z.number().int(),
    steps: z.array(StepProgressSchema),
    start_cmd: z.string().nullable(),
    ready_cmd: z.string().nullable(),
    error: z.string().nullable().openapi({ description: "Why it failed: the failing step and its output" }),
    failed_step: z.number().int().nullable(),
    template_id: z.string().nullable(),
    vcpus: z.number().int(),
    memory_mb: z.number().int(),
    disk_size_mb: z.number().int(),
    skip_pre_post: z.boolean(),
    skip_cache: z.boolean(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
  })
  .openapi("Build");

/** The wire form of a build row. */
export function buildView(b: Build): z.infer<typeof BuildSchema> {
  const spec = b.spec as BuildSpec;
  return {
    id: formatId("build", b.id),
    name: b.name,
    team_id: formatId("team", b.teamId),
    platform: b.teamId === PLATFORM_TEAM_ID,
    base_template: b.baseTemplate,
    source: b.source,
    status: b.status,
    current_step: b.currentStep,
    total_steps: b.totalSteps,
    steps: b.steps.map((s) => ({
      index: s.index,
      description: s.description,
      status: s.status,
      started_at: s.startedAt ?? null,
      finished_at: s.finishedAt ?? null,
      exit_code: s.exitCode ?? null,
    })),
    start_cmd: spec.startCmd ?? null,
    ready_cmd: spec.readyCmd ?? null,
    error: b.error,
    failed_step: b.failedStep,
    template_id: b.templateId ? formatId("template", b.templateId) : null,
    vcpus: b.vcpus,
    memory_mb: b.memoryMb,
    disk_size_mb: b.diskSizeMb,
    skip_pre_post: b.skipPrePost,
    skip_cache: b.skipCache,
    created_at: b.createdAt.toISOString(),
    started_at: b.startedAt?.toISOString() ?? null,
    completed_at: b.completedAt?.toISOString() ?? null,
  };
}

const LogSchema = z
  .object({
    id: z.number().int().openapi({ description: "Cursor: pass as `after` to read on" }),
    step: z.number().int().openapi({ description: "1-based step; 0 = the builder's own messages" }),
    stream: z.enum(["system", "stdout", "stderr"]),
    message: z.string(),
    timestamp: z.string(),
  })
  .openapi("BuildLogEntry");

function logView(l: BuildLog): z.infer<typeof LogSchema> {
  return {
    id: l.id,
    step: l.step,
    stream: l.stream,
    message: l.message,
    timestamp: l.createdAt.toISOString(),
  };
}

const IdParam = z.object({ id: z.string().openapi({ example: "bld-…" }) });
const ListQuery = z.object({
  name: z.string().optional(),
  status: z.enum(statuses).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const LogsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});
const BuildList = z.object({ builds: z.array(BuildSchema) }).openapi("BuildList");
const LogPage = z
  .object({
    logs: z.array(LogSchema),
    next_after: z.number().int().openapi({ description: "Pass as `after` to read newer entries" }),
    status: z.enum(statuses),
    current_step: z.number().int(),
    total_steps: z.number().int(),
  })
  .openapi("BuildLogPage");

const TERMINAL = new Set(["ready", "error", "cancelled"]);

/**
 * `/v1/builds` (team templates; any member, API key or session) and
 * `/v1/admin/builds` (platform templates; platform admins): submit, list,
 * get, logs (paged JSON or live SSE) and cancel.
 */
export function registerBuildRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { builds: BuildsService },
): void {
  const svc = deps.builds;
  const scopes: {
    scope: BuildScope;
    base: string;
    tag: string;
    security: typeof jwtSecurity;
    mw: typeof deps.mw.requireAdmin;
  }[] = [
    {
      scope: "team",
      base: "/v1/builds",
      tag: "builds",
      security: keyOrJwtSecurity,
      mw: deps.mw.requireAPIKeyOrJWT,
    },
    {
      scope: "platform",
      base: "/v1/admin/builds",
      tag: "admin",
      security: jwtSecurity,
      mw: deps.mw.requireAdmin,
    },
  ];
  for (const { scope, base, tag, security, mw } of scopes) {
    const who = scope === "team" ? "of the caller's team" : "of the platform (platform admin)";
    app.openapi(
      createRoute({
        method: "post",
        path: base,
        tags: [tag],
        summary: `Queue a template build ${who}: a recipe, a Dockerfile or typed steps, plus a build context`,
        security,
        middleware: [mw],
        request: {
          body: {
            content: {
              "application/json": { schema: SubmitBody },
              "multipart/form-data": { schema: SubmitForm },
            },
          },
        },
        responses: {
          202: jsonResponse(BuildSchema, "The queued build"),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) => c.json(buildView(await svc.submit(c.get("auth"), await readSubmission(c), scope)), 202),
    );

    app.openapi(
      createRoute({
        method: "get",
        path: base,
        tags: [tag],
        summary:
          scope === "team" ? "The team's builds, newest first" : "Every team's builds (platform admin)",
        security,
        middleware: [mw],
        request: { query: ListQuery },
        responses: { 200: jsonResponse(BuildList, "Builds"), ...errorResponses(400, 401, 403) },
      }),
      async (c) => {
        const list = await svc.list(c.get("auth"), c.req.valid("query"), scope);
        return c.json({ builds: list.map(buildView) }, 200);
      },
    );

    app.openapi(
      createRoute({
        method: "get",
        path: `${base}/{id}`,
        tags: [tag],
        summary: "One build: status, progress per step, error",
        security,
        middleware: [mw],
        request: { params: IdParam },
        responses: { 200: jsonResponse(BuildSchema, "The build"), ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        const id = parseIdOrNotFound("build", c.req.valid("param").id, "build");
        return c.json(buildView(await svc.get(c.get("auth"), id)), 200);
      },
    );

    app.openapi(
      createRoute({
        method: "post",
        path: `${base}/{id}/cancel`,
        tags: [tag],
        summary: "Cancel a queued or running build (its sandbox is destroyed; no template is made)",
        security,
        middleware: [mw],
        request: { params: IdParam },
        responses: {
          200: jsonResponse(BuildSchema, "The cancelled build"),
          ...errorResponses(401, 403, 404, 409),
        },
      }),
      async (c) => {
        const id = parseIdOrNotFound("build", c.req.valid("param").id, "build");
        return c.json(buildView(await svc.cancel(c.get("auth"), id)), 200);
      },
    );

    app.openapi(
      createRoute({
        method: "get",
        path: `${base}/{id}/logs`,
        tags: [tag],
        summary: "Build log entries after a cursor (poll with `after=next_after`)",
        security,
        middleware: [mw],
        request: { params: IdParam, query: LogsQuery },
        responses: {
          200: jsonResponse(LogPage, "Entries, oldest first"),
          ...errorResponses(400, 401, 403, 404),
        },
      }),
      async (c) => {
        const id = parseIdOrNotFound("build", c.req.valid("param").id, "build");
        const q = c.req.valid("query");
        const { build, logs } = await svc.logs(c.get("auth"), id, q.after, q.limit);
        return c.json(
          {
            logs: logs.map(logView),
            next_after: logs.at(-1)?.id ?? q.after,
            status: build.status,
            current_step: build.currentStep,
            total_steps: build.totalSteps,
          },
          200,
        );
      },
    );

    app.openapi(
      createRoute({
        method: "get",
        path: `${base}/{id}/events`,
        tags: [tag],
        summary:
          "Live build progress as Server-Sent Events: `log` (a BuildLogEntry), `status` (the Build, on every change) and a final `end`",
        security,
        middleware: [mw],
        request: { params: IdParam, query: z.object({ after: z.coerce.number().int().min(0).default(0) }) },
        responses: {
          200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } },
          ...errorResponses(401, 403, 404),
        },
      }),
      async (c) => {
        const id = parseIdOrNotFound("build", c.req.valid("param").id, "build");
        const auth = c.get("auth");
        let after = c.req.valid("query").after;
        await svc.get(auth, id); // 404 before the stream starts
        return streamSSE(c, async (stream) => {
          let aborted = false;
          stream.onAbort(() => {
            aborted = true;
          });
          let lastStatus = "";
          while (!aborted) {
            const { build, logs } = await svc.logs(auth, id, after, 1000);
            for (const l of logs) {
              await stream.writeSSE({ event: "log", id: String(l.id), data: JSON.stringify(logView(l)) });
              after = l.id;
            }
            const status = `${build.status}:${build.currentStep}`;
            if (status !== lastStatus) {
              lastStatus = status;
              await stream.writeSSE({ event: "status", data: JSON.stringify(buildView(build)) });
            }
            // The builder writes its last entries just after the outcome: they get a moment to land.
            const settled = build.completedAt && Date.now() - build.completedAt.getTime() > 1500;
            if (TERMINAL.has(build.status) && logs.length === 0 && settled) {
              await stream.writeSSE({ event: "end", data: JSON.stringify({ status: build.status }) });
              break;
            }
            if (logs.length < 1000) await stream.sleep(300);
          }
        });
      },
    );
  }
}
