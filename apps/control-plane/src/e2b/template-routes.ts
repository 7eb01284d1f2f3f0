import { randomUUID } from "node:crypto";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { assertSafeName, errors } from "@wrenn/common";
import type { Build, BuildLog } from "@wrenn/db";
import { Hono } from "hono";
import type { Redis } from "ioredis";
import { z } from "zod";
import { type ContextFile, readTar } from "../builds/context.ts";
import type { BuildsService } from "../builds/service.ts";
import type { AppEnv } from "../http/context.ts";
import type { RouteDeps } from "../routes/deps.ts";
import type { SnapshotsService } from "../services/snapshots.ts";
import { e2bErrorResponse, readBody } from "./errors.ts";
import { E2B_PREFIX } from "./routes.ts";
import { E2bTemplateStore } from "./template-files.ts";
import { E2bTemplateBody, e2bTemplateToSpec, redactTemplate } from "./template-steps.ts";

/** Path of the SDK's COPY uploads: exempt from the global body limit and the user-text check. */
export const e2bTemplateUploadPath = /^\/e2b\/templates\/[^/]+\/files\/[0-9a-f]{64}$/;

const BuildRequest = z.looseObject({
  name: z.string().min(1).max(256).optional(),
  alias: z.string().min(1).max(256).optional(),
  tags: z.array(z.string()).nullish(),
  cpuCount: z.number().int().optional(),
  memoryMB: z.number().int().optional(),
});

const HASH = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** E2B's build states: a queued Wrenn build is `waiting`, cancelled ones are `error`. */
function e2bStatus(b: Build): "waiting" | "building" | "ready" | "error" {
  if (b.status === "queued") return "waiting";
  if (b.status === "building" || b.status === "ready") return b.status;
  return "error";
}

function logEntry(l: BuildLog) {
  return {
    timestamp: l.createdAt.toISOString(),
    level: l.stream === "stderr" ? "warn" : "info",
    message: l.message,
    ...(l.step ? { step: String(l.step) } : {}),
  };
}

/**
 * E2B's template-build API, as the `e2b` SDK's `Template.build()` /
 * `buildInBackground()` / `getBuildStatus()` call it: request a build
 * (`POST /v3/templates`), upload COPY sources by content hash, trigger with the
 * serialized steps, poll status and logs. A thin adapter over {@link BuildsService}:
 * the E2B build id is the Wrenn build's id, the template id is its name.
 * Mounted before {@link registerE2bRoutes} (whose catch-all answers the rest).
 */
export function registerE2bTemplateRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { redis: Redis; builds: BuildsService; snapshots: SnapshotsService },
): void {
  const store = new E2bTemplateStore(deps.redis);
  const { builds } = deps;

  // The upload target: authorized by the one-use token in its URL, not an API key.
  const uploads = new Hono<AppEnv>();
  uploads.onError((err, c) => e2bErrorResponse(err, c, c.get("log") ?? deps.log));
  uploads.put("/templates/:templateID/files/:hash", async (c) => {
    const hash = c.req.param("hash");
    const archive = Buffer.from(await c.req.arrayBuffer());
    readTar(archive); // refuses what no COPY could read, before it is stored
    if (!(await store.putFiles(c.req.query("token") ?? "", hash, archive))) {
      throw errors.permissionDenied("upload link is unknown, used or expired");
    }
    return c.body(null, 201);
  });
  app.route(E2B_PREFIX, uploads);

  const api = new Hono<AppEnv>();
  api.onError((err, c) => e2bErrorResponse(err, c, c.get("log") ?? deps.log));
  api.use("/templates/*", deps.mw.requireAPIKeyOrJWT);
  api.use("/v2/templates/*", deps.mw.requireAPIKeyOrJWT);
  api.use("/v3/templates", deps.mw.requireAPIKeyOrJWT);
  const teamOf = async (c: { get(k: "auth"): AppEnv["Variables"]["auth"] }) =>
    (await deps.services.teams.access(c.get("auth"))).team.id;

  api.post("/v3/templates", async (c) => {
    const body = await readBody(c, BuildRequest);
    const raw = body.name ?? body.alias;
    if (!raw) throw errors.invalidArgument("name is required");
    if (raw.includes(":") || body.tags?.length) {
      throw errors.invalidArgument("template tags are not supported by Wrenn: build with a plain name");
    }
    const name = assertSafeName(raw, "name");
    const buildID = randomUUID();
    await store.savePending(buildID, {
      teamId: await teamOf(c),
      name,
      cpuCount: body.cpuCount,
      memoryMB: body.memoryMB,
    });
    return c.json(
      { templateID: name, buildID, public: false, names: [name], aliases: [name], tags: [] },
      202,
    );
  });

  api.get("/templates/:templateID/files/:hash", async (c) => {
    const hash = c.req.param("hash");
    if (!HASH.test(hash)) throw errors.invalidArgument("hash must be 64 hex digits");
    const teamId = await teamOf(c);
    if (await store.hasFiles(teamId, hash)) return c.json({ present: true });
    const token = await store.uploadToken(teamId, hash);
    const origin = deps.config.publicUrl ?? new URL(c.req.url).origin;
    const path = `${E2B_PREFIX}/templates/${encodeURIComponent(c.req.param("templateID"))}/files/${hash}`;
    return c.json({ present: false, url: `${origin}${path}?token=${token}` }, 201);
  });

  api.post("/v2/templates/:templateID/builds/:buildID", async (c) => {
    const buildID = c.req.param("buildID");
    const template = await readBody(c, E2bTemplateBody);
    const teamId = await teamOf(c);
    const pending = UUID.test(buildID) ? await store.pending(buildID) : undefined;
    if (!pending || pending.teamId !== teamId || pending.name !== c.req.param("templateID")) {
      throw errors.notFound(`build ${buildID} of template ${c.req.param("templateID")} not found`);
    }
    const mapped = e2bTemplateToSpec(template);
    const files = new Map<string, ContextFile>();
    for (const hash of mapped.filesHashes) {
      const archive = await store.files(teamId, hash);
      if (!archive)
        throw errors.failedPrecondition(`files ${hash} were not uploaded (or expired): build again`);
      for (const f of readTar(archive)) files.set(f.path, f);
    }
    await builds.submit(
      c.get("auth"),
      {
        id: buildID,
        name: pending.name,
        source: "steps",
        text: JSON.stringify(redactTemplate(template)),
        spec: mapped.spec,
        from: mapped.from,
        registryAuth: mapped.registryAuth,
        vcpus: pending.cpuCount,
        memoryMb: pending.memoryMB,
        // E2B's builds have no apt pre/post steps: aptInstall() runs its own `apt-get update`.
        skipPrePost: true,
        skipCache: mapped.skipCache,
        files: [...files.values()],
      },
      "team",
    );
    await store.dropPending(buildID);
    // openapi-fetch parses any body without `Content-Length: 0` as JSON: answer an empty object.
    return c.json({}, 202);
  });

  api.get("/templates/:templateID/builds/:buildID/status", async (c) => {
    const buildID = c.req.param("buildID");
    const templateID = c.req.param("templateID");
    const offset = Number(c.req.query("logsOffset") ?? 0);
    if (!Number.isInteger(offset) || offset < 0) throw errors.invalidArgument("logsOffset must be >= 0");
    if (!UUID.test(buildID)) throw errors.notFound(`build ${buildID} not found`);
    const pending = await store.pending(buildID);
    if (pending && pending.teamId === (await teamOf(c)) && pending.name === templateID) {
      return c.json({ templateID, buildID, status: "waiting", logs: [], logEntries: [] });
    }
    const { build, logs } = await builds.logs(c.get("auth"), buildID, 0, 100_000);
    if (build.name !== templateID) throw errors.notFound(`build ${buildID} not found`);
    const entries = logs.map(logEntry);
    const status = e2bStatus(build);
    const fresh = entries.slice(offset);
    return c.json({
      templateID,
      buildID,
      status,
      logs: fresh.map((e) => `[${e.timestamp}] ${e.message}`),
      logEntries: fresh,
      ...(status === "error"
        ? {
            reason: {
              message: build.error ?? build.status,
              ...(build.failedStep ? { step: String(build.failedStep) } : {}),
              logEntries: entries
                .filter((e) => build.failedStep && e.step === String(build.failedStep))
                .slice(-20),
            },
          }
        : {}),
    });
  });

  api.get("/templates/aliases/:alias", async (c) => {
    const alias = c.req.param("alias");
    const row = await deps.snapshots.find(c.get("auth"), alias === "base" ? "minimal" : alias);
    if (!row) throw errors.notFound(`template ${alias} not found`);
    return c.json({ templateID: row.name, public: row.teamId !== (await teamOf(c)) });
  });

  app.route(E2B_PREFIX, api);
}
