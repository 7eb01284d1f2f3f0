import type { Logger } from "@wrenn/common";
import type { Database } from "@wrenn/db";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import { stringify } from "yaml";
import { HostTokens } from "./auth/host-tokens.ts";
import { SessionTokens } from "./auth/jwt.ts";
import { RateLimiter } from "./auth/rate-limit.ts";
import type { Config } from "./config.ts";
import { registerE2bRoutes } from "./e2b/routes.ts";
import { HostClientPool } from "./hosts/pool.ts";
import { LeastLoadedScheduler, type Scheduler } from "./hosts/scheduler.ts";
import { mountDocs } from "./http/docs.ts";
import { errorResponse } from "./http/errors.ts";
import { authMiddlewares, requestContext } from "./http/middleware.ts";
import { createRouter } from "./http/openapi.ts";
import { UpgradeRegistry } from "./http/upgrade.ts";
import type { OAuthProvider } from "./oauth/provider.ts";
import { buildProviderRegistry } from "./oauth/registry.ts";
import { OAuthStateSigner } from "./oauth/state.ts";
import { PortProxy } from "./proxy/port-proxy.ts";
import { registerAdminRoutes } from "./routes/admin.ts";
import { registerApiKeyRoutes } from "./routes/api-keys.ts";
import { registerAuditRoutes } from "./routes/audit.ts";
import { registerAuthRoutes } from "./routes/auth.ts";
import type { RouteDeps } from "./routes/deps.ts";
import { registerHostRoutes } from "./routes/hosts.ts";
import { registerMeRoutes } from "./routes/me.ts";
import { registerOAuthRoutes } from "./routes/oauth.ts";
import { ownBodyLimitPath, registerSandboxFileRoutes } from "./routes/sandbox-files.ts";
import { registerSandboxMetricsRoutes } from "./routes/sandbox-metrics.ts";
import { registerSandboxProcessRoutes } from "./routes/sandbox-processes.ts";
import { registerSandboxStreamRoutes } from "./routes/sandbox-streams.ts";
import { registerSandboxRoutes } from "./routes/sandboxes.ts";
import { registerSnapshotRoutes } from "./routes/snapshots.ts";
import { registerTeamRoutes } from "./routes/teams.ts";
import { registerUserRoutes } from "./routes/users.ts";
import { ApiKeysService } from "./services/api-keys.ts";
import { AuditLogger } from "./services/audit.ts";
import { AuditQueryService } from "./services/audit-query.ts";
import { AuthService } from "./services/auth.ts";
import { HostsService } from "./services/hosts.ts";
import { SandboxFilesService } from "./services/sandbox-files.ts";
import { SandboxMetricsService } from "./services/sandbox-metrics.ts";
import { SandboxProcessesService } from "./services/sandbox-processes.ts";
import { SandboxStreamsService } from "./services/sandbox-streams.ts";
import { SandboxesService } from "./services/sandboxes.ts";
import { SnapshotsService } from "./services/snapshots.ts";
import { type TeamDeletionHook, TeamsService } from "./services/teams.ts";
import { UsersService } from "./services/users.ts";

/** Everything the HTTP app needs from the outside world. */
export interface AppDeps {
  config: Config;
  db: Database;
  redis: Redis;
  log: Logger;
  /** `GET /health` answers 200 only while this returns true (default: always). */
  isReady?: () => boolean;
  /** OAuth providers by name; defaults to those configured in `config`. */
  oauthProviders?: Map<string, OAuthProvider>;
  /** Run before a team is soft-deleted (e.g. destroy its sandboxes). */
  teamDeletionHooks?: TeamDeletionHook[];
  /**
   * Connect clients of host agents (shared with the host monitor); default: a new plain-HTTP
   * pool. Its `tls` (mTLS towards agents) also gives the CA that issues host certificates and
   * the port proxy's TLS settings.
   */
  hostPool?: HostClientPool;
  /** Host placement strategy for new sandboxes; default least-loaded. */
  scheduler?: Scheduler;
}

/** The OpenAPI document's fixed fields. */
export const openApiInfo = {
  openapi: "3.1.0",
  info: {
    title: "Wrenn API",
    version: "0.1.0",
    description:
      "Control plane of Wrenn, a self-hostable microVM sandbox platform. Errors are `{code, message}`.",
  },
};

/** Builds the control plane's Hono app (tests drive it with `app.request()`). */
export function createApp(deps: AppDeps) {
  const { config, db, redis, log } = deps;
  const tokens = new SessionTokens(config.jwtSecret, config.jwtTtlSec);
  const audit = new AuditLogger(db, log);
  const limiter = new RateLimiter(redis, config.rateLimit.windowSec);
  const hostTokens = new HostTokens(config.jwtSecret);
  const hostPool = deps.hostPool ?? new HostClientPool();
  const sandboxes = new SandboxesService({
    db,
    pool: hostPool,
    scheduler: deps.scheduler ?? new LeastLoadedScheduler(),
    audit,
    log,
  });
  const snapshots = new SnapshotsService({ db, pool: hostPool, audit, log });
  // A deleted team's sandboxes are destroyed first, so nothing keeps running unowned.
  const teamDeletionHooks = [
    ...(deps.teamDeletionHooks ?? []),
    (teamId: string) => sandboxes.destroyAllOfTeam(teamId),
    // After its sandboxes, so no template generation is still in use (best effort, never throws).
    (teamId: string) => snapshots.deleteAllOfTeam(teamId),
  ];
  const upgrades = new UpgradeRegistry();
  const routeDeps: RouteDeps = {
    config,
    db,
    log,
    upgrades,
    services: {
      auth: new AuthService(db, tokens, audit, limiter, config.rateLimit),
      apiKeys: new ApiKeysService(db, audit),
      teams: new TeamsService(db, audit, teamDeletionHooks),
      users: new UsersService(db),
      audit: new AuditQueryService(db),
      hosts: new HostsService({
        db,
        redis,
        tokens: hostTokens,
        audit,
        pool: hostPool,
        log,
        ca: hostPool.tls?.ca,
      }),
      sandboxes,
    },
    hostTokens,
    mw: authMiddlewares({ db, tokens }),
    oauth: {
      providers: deps.oauthProviders ?? buildProviderRegistry(config),
      state: new OAuthStateSigner(config.jwtSecret),
    },
  };

  // Sandbox port traffic is routed before the API (and before its body limit): see proxy/.
  const portProxy = new PortProxy({ db, redis, log, domain: config.proxyDomain, agentTls: hostPool.tls });
  sandboxes.onStoppedRunning((id) => portProxy.access.invalidate(id));
  upgrades.add(portProxy.upgradeHandler);

  const app = createRouter();
  app.use("*", requestContext(log));
  app.use("*", portProxy.middleware);
  const globalBodyLimit = bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: (c) =>
      c.json({ code: "invalid_argument", message: `request body exceeds ${config.maxBodyBytes} bytes` }, 400),
  });
  // File uploads set their own, larger limit.
  app.use("*", (c, next) => (ownBodyLimitPath.test(c.req.path) ? next() : globalBodyLimit(c, next)));
  app.onError((err, c) => errorResponse(err, c, c.get("log") ?? log));
  app.notFound((c) =>
    c.json({ code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404),
  );

  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKeyAuth", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "BearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });

  app.get("/health", (c) =>
    (deps.isReady?.() ?? true)
      ? c.json({ status: "ok" }, 200)
      : c.json({ code: "unavailable", message: "starting" }, 503),
  );
  registerAuthRoutes(app, routeDeps);
  registerOAuthRoutes(app, routeDeps);
  registerMeRoutes(app, routeDeps);
  registerApiKeyRoutes(app, routeDeps);
  registerTeamRoutes(app, routeDeps);
  registerUserRoutes(app, routeDeps);
  registerAuditRoutes(app, routeDeps);
  registerAdminRoutes(app, routeDeps);
  registerHostRoutes(app, routeDeps);
  registerSandboxRoutes(app, routeDeps);
  registerSandboxFileRoutes(app, { ...routeDeps, files: new SandboxFilesService(sandboxes) });
  registerSandboxMetricsRoutes(app, {
    ...routeDeps,
    metrics: new SandboxMetricsService({ db, sandboxes, log }),
  });
  registerSandboxProcessRoutes(app, { ...routeDeps, processes: new SandboxProcessesService(sandboxes) });
  registerE2bRoutes(app, { ...routeDeps, metrics: new SandboxMetricsService({ db, sandboxes, log }) });
  registerSandboxStreamRoutes(app, { ...routeDeps, streams: new SandboxStreamsService({ sandboxes, log }) });
  registerSnapshotRoutes(app, { ...routeDeps, snapshots });

  app.doc31("/openapi.json", openApiInfo);
  let yamlDoc: string | undefined;
  app.get("/openapi.yaml", (c) => {
    yamlDoc ??= stringify(app.getOpenAPI31Document(openApiInfo));
    return c.body(yamlDoc, 200, { "content-type": "application/yaml; charset=utf-8" });
  });
  mountDocs(app);
  // WebSocket routes cannot live in Hono's fetch routing; the server hands upgrades to these.
  return Object.assign(app, { upgrades });
}

/** The control plane app type. */
export type App = ReturnType<typeof createApp>;
