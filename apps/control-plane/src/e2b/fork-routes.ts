import type { OpenAPIHono } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import type { Template } from "@wrenn/db";
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../http/context.ts";
import { parseIdOrNotFound } from "../ids.ts";
import type { RouteDeps } from "../routes/deps.ts";
import type { SandboxForkService } from "../services/sandbox-fork.ts";
import { checkRange, sandboxLimits } from "../services/sandbox-spec.ts";
import type { SnapshotsService } from "../services/snapshots.ts";
import type { SandboxDeadlines } from "./deadlines.ts";
import { e2bErrorResponse, readBody } from "./errors.ts";
import { E2B_PREFIX } from "./routes.ts";
import { e2bSandbox } from "./views.ts";

// E2B's fork request: `timeout` is the forks' lifetime in seconds (default 15, as on create).
const ForkRequest = z.looseObject({
  count: z.number().int().optional(),
  timeout: z.number().int().optional(),
});
const DEFAULT_FORK_TIMEOUT_SEC = 15;

const SnapshotRequest = z.looseObject({ name: z.string().min(1).max(63).optional() });

/** E2B's `SnapshotInfo`: the id `Sandbox.create()` takes is the template's name. */
function snapshotInfo(t: Template) {
  return { snapshotID: t.name, names: [t.name] };
}

/**
 * E2B's fork and snapshots API over Wrenn's fork engine and sandbox templates:
 * `POST /sandboxes/{id}/fork`, `POST /sandboxes/{id}/snapshots`, `GET /snapshots` and
 * `DELETE /templates/{id}` (how the SDK deletes a snapshot). A snapshot is a `snapshot`
 * template of the team, so `Sandbox.create(snapshotID)` starts from it like any template.
 * Registered before the rest of `/e2b` (its catch-all would answer these paths).
 */
export function registerE2bForkRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { deadlines: SandboxDeadlines; forks: SandboxForkService; snapshots: SnapshotsService },
): void {
  const { deadlines } = deps;
  const sandboxes = deps.services.sandboxes;
  const api = new Hono<AppEnv>();
  api.onError((err, c) => e2bErrorResponse(err, c, c.get("log") ?? deps.log));
  for (const path of [
    "/sandboxes/:sandboxID/fork",
    "/sandboxes/:sandboxID/snapshots",
    "/snapshots",
    "/templates/:id",
  ]) {
    api.use(path, deps.mw.requireAPIKeyOrJWT);
  }
  const idOf = (wire: string) => parseIdOrNotFound("sandbox", wire, "sandbox");

  // All forks are made from one capture; Wrenn's engine makes them all or none, so every
  // entry carries a sandbox (a failure is the request's error, before any fork exists).
  api.post("/sandboxes/:sandboxID/fork", async (c) => {
    const body = await readBody(c, ForkRequest);
    const timeout = checkRange(body.timeout ?? DEFAULT_FORK_TIMEOUT_SEC, sandboxLimits.timeoutSec, "timeout");
    const auth = c.get("auth");
    const source = await sandboxes.get(auth, idOf(c.req.param("sandboxID")));
    // E2B's end time replaces Wrenn's inactivity timer on the forks, as on create.
    const forks = await deps.forks.fork(auth, source.id, { count: body.count ?? 1, timeoutSec: 0 });
    const results = [];
    for (const f of forks) {
      const started = await deadlines.begin(f.sandbox, timeout, {
        onTimeout: source.onTimeout ?? "kill",
        autoResume: source.autoResume,
      });
      results.push({ sandbox: e2bSandbox(started, f.envdAccessToken) });
    }
    return c.json(results, 201);
  });

  api.post("/sandboxes/:sandboxID/snapshots", async (c) => {
    const body = await readBody(c, SnapshotRequest);
    const template = await deps.snapshots.create(c.get("auth"), {
      sandboxId: idOf(c.req.param("sandboxID")),
      name: body.name,
      type: "snapshot",
    });
    return c.json(snapshotInfo(template), 201);
  });

  api.get("/snapshots", async (c) => {
    const auth = c.get("auth");
    const limit = checkRange(Number(c.req.query("limit") ?? 100), { min: 1, max: 100 }, "limit");
    const offset = Number(c.req.query("nextToken") ?? 0);
    if (!Number.isInteger(offset) || offset < 0)
      throw errors.invalidArgument("nextToken is not one this API gave");
    const rows = await deps.snapshots.listOwnSnapshots(auth, {
      name: c.req.query("name"),
      capturedFrom: c.req.query("sandboxID"),
    });
    const page = rows.slice(offset, offset + limit);
    if (offset + limit < rows.length) c.header("X-Next-Token", String(offset + limit));
    return c.json(page.map(snapshotInfo), 200);
  });

  // The SDK deletes snapshots (and templates) by id: here the name `snapshotID` carries.
  api.delete("/templates/:id", async (c) => {
    await deps.snapshots.delete(c.get("auth"), c.req.param("id"));
    return c.body(null, 204);
  });

  app.route(E2B_PREFIX, api);
}
