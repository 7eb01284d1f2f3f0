import { errors } from "@wrenn/common";
import { requireAccessToken } from "../auth.ts";
import type { SystemClock } from "../clock.ts";
import type { EnvdContext } from "../context.ts";
import { downloadFile, uploadFiles } from "./files.ts";
import { handleInit } from "./init.ts";
import { MetricsSampler } from "./metrics.ts";
import { type HttpRequest, type HttpResponse, header, sendError, sendJson } from "./respond.ts";

type RouteHandler = (req: HttpRequest, res: HttpResponse) => Promise<void>;

/**
 * The plain HTTP routes of envd's API (`/health`, `/files`, `/init`, `/envs`,
 * `/metrics`). Returns a function that answers the request and returns true
 * when the path is one of them, false otherwise (Connect handles the rest).
 */
export function createHttpRoutes(
  ctx: EnvdContext,
  clock: SystemClock,
): (req: HttpRequest, res: HttpResponse) => boolean {
  const metrics = new MetricsSampler();
  const withToken =
    (handler: RouteHandler): RouteHandler =>
    async (req, res) => {
      requireAccessToken(ctx.state, header(req, "x-access-token"));
      await handler(req, res);
    };

  const routes: Record<string, Partial<Record<string, RouteHandler>>> = {
    "/health": {
      GET: async (_req, res) => {
        res.writeHead(204).end();
      },
    },
    // /files checks the token itself: a signed URL may stand in for it.
    "/files": {
      GET: (req, res) => downloadFile(ctx, req, res),
      POST: (req, res) => uploadFiles(ctx, req, res),
    },
    "/init": { POST: withToken((req, res) => handleInit(ctx, clock, req, res)) },
    "/envs": { GET: withToken(async (_req, res) => sendJson(res, 200, ctx.state.processEnvironment())) },
    "/metrics": { GET: withToken(async (_req, res) => sendJson(res, 200, await metrics.sample())) },
  };

  return (req, res) => {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    const route = routes[pathname];
    if (!route) return false;
    const handler = route[req.method ?? "GET"] ?? (req.method === "HEAD" ? route.GET : undefined);
    if (!handler) {
      sendError(res, errors.invalidArgument(`method ${req.method} not allowed`), ctx.logger);
      return true;
    }
    handler(req, res).catch((err) => {
      const path = new URL(req.url ?? "/", "http://envd").searchParams.get("path") ?? undefined;
      sendError(res, err, ctx.logger, path);
    });
    return true;
  };
}
