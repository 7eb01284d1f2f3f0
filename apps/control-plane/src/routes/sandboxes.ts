import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import type { Sandbox, SandboxState } from "@wrenn/db";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, jsonBody, jsonResponse, keyOrJwtSecurity } from "../http/openapi.ts";
import { requireUserText } from "../http/user-text.ts";
import { formatId, parseIdOrInvalid, parseIdOrNotFound } from "../ids.ts";
import type { SandboxSpec } from "../services/sandbox-spec.ts";
import { GUEST_USER } from "../services/stream-messages.ts";
import type { RouteDeps } from "./deps.ts";
import { EgressFields, EgressView, egressOf, registerSandboxNetworkRoute } from "./sandbox-network.ts";

const states = ["pending", "starting", "running", "paused", "stopped", "missing", "error"] as const;

/** A sandbox on the wire. */
export const SandboxSchema = z
  .object({
    id: z.string().openapi({ example: "sb-5d2e…", description: "DNS-label-safe" }),
    state: z.enum(states),
    template: z.string().openapi({ example: "minimal" }),
    host_id: z.string().nullable(),
    vcpus: z.number().int(),
    memory_mb: z.number().int(),
    disk_size_mb: z.number().int(),
    timeout_sec: z
      .number()
      .int()
      .openapi({ description: "Inactivity auto-pause after this many seconds; 0 = never" }),
    metadata: z.record(z.string(), z.string()),
    ...EgressView,
    created_at: z.string(),
    last_active_at: z.string().nullable(),
  })
  .openapi("Sandbox");

/** The wire form of a sandbox row. */
export function sandboxView(s: Sandbox): z.infer<typeof SandboxSchema> {
  return {
    id: formatId("sandbox", s.id),
    state: s.state,
    template: s.template,
    host_id: s.hostId ? formatId("host", s.hostId) : null,
    vcpus: s.vcpus,
    memory_mb: s.memoryMb,
    disk_size_mb: s.diskSizeMb,
    timeout_sec: s.timeoutSec,
    metadata: s.metadata,
    allow_internet: s.allowInternet,
    allow_out: s.allowOut,
    deny_out: s.denyOut,
    created_at: s.createdAt.toISOString(),
    last_active_at: s.lastActiveAt?.toISOString() ?? null,
  };
}

const StringMap = (maxKeys: number, what: string) =>
  z
    .record(z.string().min(1).max(128), z.string().max(4096))
    .refine((m) => Object.keys(m).length <= maxKeys, `at most ${maxKeys} ${what}`);

const CreateBody = z
  .strictObject({
    template: z.string().optional().openapi({ example: "minimal" }),
    vcpus: z.number().int().optional(),
    memory_mb: z.number().int().optional(),
    disk_size_mb: z.number().int().optional(),
    timeout_sec: z.number().int().optional(),
    metadata: StringMap(64, "metadata entries").optional(),
    envs: StringMap(256, "environment variables").optional(),
    ...EgressFields,
  })
  .openapi("CreateSandboxRequest");

/** The {@link SandboxSpec} a validated create body asks for (the one place wire names become spec names). */
function sandboxSpec(body: z.infer<typeof CreateBody>): SandboxSpec {
  return {
    template: body.template,
    vcpus: body.vcpus,
    memoryMb: body.memory_mb,
    diskSizeMb: body.disk_size_mb,
    timeoutSec: body.timeout_sec,
    metadata: body.metadata,
    envs: body.envs,
    egress: egressOf(body),
  };
}

const CreatedSchema = SandboxSchema.extend({
  envd_access_token: z.string().openapi({ description: "X-Access-Token for envd; shown only here" }),
}).openapi("CreatedSandbox");

const ExecBody = z
  .strictObject({
    cmd: z.string().min(1).max(100_000),
    args: z.array(z.string().max(100_000)).max(1000).optional(),
    envs: StringMap(256, "environment variables").optional(),
    cwd: z.string().max(4096).optional(),
    user: z
      .string()
      .regex(GUEST_USER, "must be a user name such as user or root")
      .optional()
      .openapi({ description: "Guest user to run as (default: user; root for administration)" }),
    timeout_sec: z.number().int().optional(),
    background: z
      .boolean()
      .optional()
      .openapi({ description: "Return at once with the pid; see /processes" }),
    tag: z.string().min(1).max(256).optional().openapi({ description: "Name of a background process" }),
  })
  .openapi("ExecRequest");

const ExecResultSchema = z
  .object({
    pid: z.number().int(),
    exit_code: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Null when killed by the timeout or started in the background" }),
    stdout: z.string(),
    stderr: z.string(),
    timed_out: z.boolean(),
  })
  .openapi("ExecResult");

const ListQuery = z.object({
  state: z.string().optional().openapi({
    description:
      "Comma-separated states, e.g. running,paused. Default: every state but stopped (destroyed sandboxes are listed only with state=stopped)",
  }),
  metadata: z.string().optional().openapi({ description: "URL-encoded key=value pairs, all must match" }),
  template: z.string().max(128).optional().openapi({ description: "Only sandboxes of this template name" }),
  cursor: z.string().optional().openapi({ description: "next_cursor of the previous page" }),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

const IdParam = z.object({ id: z.string().openapi({ example: "sb-…" }) });

/** What a list shows without `?state=`: everything but destroyed sandboxes, which users asked to be gone. */
const LISTED_BY_DEFAULT = states.filter((s) => s !== "stopped");

function parseStates(value: string | undefined): SandboxState[] {
  if (!value) return [...LISTED_BY_DEFAULT];
  const out = value.split(",").map((s) => s.trim());
  for (const s of out) {
    if (!(states as readonly string[]).includes(s)) {
      throw errors.invalidArgument(`state: unknown state ${s}; use ${states.join(", ")}`);
    }
  }
  return out as SandboxState[];
}

function parseMetadata(value: string | undefined): Record<string, string> | undefined {
  if (!value) return undefined;
  const pairs = [...new URLSearchParams(value)];
  return Object.fromEntries(
    pairs.map(([k, v]) => [requireUserText(k, "metadata"), requireUserText(v, "metadata")]),
  );
}

/** `/v1/sandboxes`: create, list, get, delete, exec, pause, resume, ping (API key or user session). */
export function registerSandboxRoutes(app: OpenAPIHono<AppEnv>, deps: RouteDeps): void {
  const sandboxes = deps.services.sandboxes;
  const mw = [deps.mw.requireAPIKeyOrJWT];
  const sandboxId = (wire: string) => parseIdOrNotFound("sandbox", wire, "sandbox");
  const action = (path: string, summary: string) =>
    createRoute({
      method: "post",
      path: `/v1/sandboxes/{id}/${path}`,
      tags: ["sandboxes"],
      summary,
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam },
      responses: {
        200: jsonResponse(SandboxSchema, "The sandbox"),
        ...errorResponses(401, 403, 404, 409, 503),
      },
    });

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes",
      tags: ["sandboxes"],
      summary: "Create a sandbox from a template on an online host",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(CreatedSchema, "The running sandbox"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const { sandbox, envdAccessToken } = await sandboxes.create(
        c.get("auth"),
        sandboxSpec(c.req.valid("json")),
      );
      return c.json({ ...sandboxView(sandbox), envd_access_token: envdAccessToken }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes",
      tags: ["sandboxes"],
      summary:
        "List the team's sandboxes, newest first (state, template and metadata filters, cursor pagination)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { query: ListQuery },
      responses: {
        200: jsonResponse(
          z.object({ sandboxes: z.array(SandboxSchema), next_cursor: z.string().nullable() }),
          "One page",
        ),
        ...errorResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await sandboxes.list(c.get("auth"), {
        states: parseStates(q.state),
        metadata: parseMetadata(q.metadata),
        template: q.template || undefined,
        cursor: q.cursor ? parseIdOrInvalid("sandbox", q.cursor, "cursor") : undefined,
        limit: q.limit ?? 50,
      });
      return c.json(
        {
          sandboxes: page.sandboxes.map(sandboxView),
          next_cursor: page.nextCursor ? formatId("sandbox", page.nextCursor) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}",
      tags: ["sandboxes"],
      summary: "One sandbox",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam },
      responses: { 200: jsonResponse(SandboxSchema, "The sandbox"), ...errorResponses(401, 403, 404) },
    }),
    async (c) =>
      c.json(sandboxView(await sandboxes.get(c.get("auth"), sandboxId(c.req.valid("param").id))), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sandboxes/{id}",
      tags: ["sandboxes"],
      summary: "Destroy a sandbox (its VM and files on the host)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam },
      responses: { 204: { description: "Destroyed" }, ...errorResponses(401, 403, 404, 503) },
    }),
    async (c) => {
      await sandboxes.destroy(c.get("auth"), sandboxId(c.req.valid("param").id));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/exec",
      tags: ["sandboxes"],
      summary: "Run a command to completion (cmd under /bin/bash -l -c when args is absent)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam, body: jsonBody(ExecBody) },
      responses: {
        200: jsonResponse(ExecResultSchema, "Exit code and output"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const result = await sandboxes.exec(c.get("auth"), sandboxId(c.req.valid("param").id), {
        cmd: body.cmd,
        args: body.args,
        envs: body.envs,
        cwd: body.cwd,
        user: body.user,
        timeoutSec: body.timeout_sec,
        background: body.background,
        tag: body.tag,
      });
      return c.json(
        {
          pid: result.pid,
          exit_code: result.exitCode,
          stdout: result.stdout,
          stderr: result.stderr,
          timed_out: result.timedOut,
        },
        200,
      );
    },
  );

  app.openapi(action("pause", "Pause a running sandbox (memory and disk kept, no RAM held)"), async (c) =>
    c.json(sandboxView(await sandboxes.pause(c.get("auth"), sandboxId(c.req.valid("param").id))), 200),
  );
  app.openapi(action("resume", "Resume a paused sandbox"), async (c) =>
    c.json(sandboxView(await sandboxes.resume(c.get("auth"), sandboxId(c.req.valid("param").id))), 200),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/connect",
      tags: ["sandboxes"],
      summary: "Resume the sandbox if paused and answer it with its envd access token (for SDKs)",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: { params: IdParam },
      responses: {
        200: jsonResponse(CreatedSchema, "The running sandbox"),
        ...errorResponses(401, 403, 404, 409, 503),
      },
    }),
    async (c) => {
      const { sandbox, envdAccessToken } = await sandboxes.connect(
        c.get("auth"),
        sandboxId(c.req.valid("param").id),
      );
      return c.json({ ...sandboxView(sandbox), envd_access_token: envdAccessToken ?? "" }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/timeout",
      tags: ["sandboxes"],
      summary: "Set the inactivity timeout (and restart the inactivity timer of a running sandbox)",
      description:
        "A running sandbox gets the new timeout on its VM at once, counted from this call: left idle, " +
        "it auto-pauses `timeout_sec` seconds later (state `paused`, reported by the host monitor " +
        "within its interval), and any activity (ping, commands, files, proxied traffic) postpones it. " +
        "A paused sandbox keeps the value for its next resume. 0 = never auto-pause.",
      security: keyOrJwtSecurity,
      middleware: mw,
      request: {
        params: IdParam,
        body: jsonBody(
          z
            .strictObject({
              timeout_sec: z
                .number()
                .int()
                .openapi({ description: "Seconds of inactivity before auto-pause, 0 to 86400; 0 = never" }),
            })
            .openapi("SetTimeoutRequest"),
        ),
      },
      responses: {
        200: jsonResponse(SandboxSchema, "The sandbox"),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    }),
    async (c) =>
      c.json(
        sandboxView(
          await sandboxes.setTimeout(
            c.get("auth"),
            sandboxId(c.req.valid("param").id),
            c.req.valid("json").timeout_sec,
          ),
        ),
        200,
      ),
  );
  registerSandboxNetworkRoute(app, deps, { schema: SandboxSchema, render: sandboxView });
  app.openapi(action("ping", "Mark a sandbox active (restarts its inactivity countdown)"), async (c) =>
    c.json(sandboxView(await sandboxes.ping(c.get("auth"), sandboxId(c.req.valid("param").id))), 200),
  );
}
