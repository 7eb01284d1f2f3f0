import type { Logger } from "@wrenn/common";
import type { Database } from "@wrenn/db";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import { stringify } from "yaml";
import { HostTokens } from "./auth/host-tokens.ts";
import { SessionTokens } from "./auth/jwt.ts";
import { LoginThrottle } from "./auth/login-throttle.ts";
import { RateLimiter } from "./auth/rate-limit.ts";
import { BuildsService } from "./builds/service.ts";
import { ChannelsService } from "./channels/service.ts";
import { channelParts } from "./channels/setup.ts";
import { EventPublisher } from "./channels/stream.ts";
import type { Config } from "./config.ts";
import { EnvdTokenVault } from "./crypto/envd-tokens.ts";
import { SecretBox } from "./crypto/secret-box.ts";
import { autoResumer } from "./e2b/auto-resume.ts";
import { SandboxDeadlines } from "./e2b/deadlines.ts";
import { registerE2bForkRoutes } from "./e2b/fork-routes.ts";
import { registerE2bRoutes } from "./e2b/routes.ts";
import { e2bTemplateUploadPath, registerE2bTemplateRoutes } from "./e2b/template-routes.ts";
import { HostClientPool } from "./hosts/pool.ts";
import { LeastLoadedScheduler, type Scheduler } from "./hosts/scheduler.ts";
import { cors } from "./http/cors.ts";
import { defaultDashboardDir, mountDashboard } from "./http/dashboard.ts";
import { mountDocs } from "./http/docs.ts";
import { errorResponse } from "./http/errors.ts";
import { authMiddlewares, requestContext } from "./http/middleware.ts";
import { createRouter } from "./http/openapi.ts";
import { securityHeaders } from "./http/security-headers.ts";
import { closeIfBodyUnread } from "./http/unread-body.ts";
import { UpgradeRegistry } from "./http/upgrade.ts";
import { userTextGuard } from "./http/user-text.ts";
import type { OAuthProvider } from "./oauth/provider.ts";
import { buildProviderRegistry } from "./oauth/registry.ts";
import { OAuthStateSigner } from "./oauth/state.ts";
import { PortProxy } from "./proxy/port-proxy.ts";
import { registerAdminRoutes } from "./routes/admin.ts";
import { registerApiKeyRoutes } from "./routes/api-keys.ts";
import { registerAuditRoutes } from "./routes/audit.ts";
import { registerAuthRoutes } from "./routes/auth.ts";
import { buildsBodyLimit, buildUploadPath, registerBuildRoutes } from "./routes/builds.ts";
import { registerChannelRoutes } from "./routes/channels.ts";
import type { RouteDeps } from "./routes/deps.ts";
import { registerHostRoutes } from "./routes/hosts.ts";
import { registerMeRoutes } from "./routes/me.ts";
import { registerOAuthRoutes } from "./routes/oauth.ts";
import { registerPortTicketRoutes } from "./routes/port-tickets.ts";
import { ownBodyLimitPath, registerSandboxFileRoutes } from "./routes/sandbox-files.ts";
import { registerSandboxForkRoutes } from "./routes/sandbox-fork.ts";
import { registerSandboxMetricsRoutes } from "./routes/sandbox-metrics.ts";
import { registerSandboxProcessRoutes } from "./routes/sandbox-processes.ts";
import { registerSandboxStreamRoutes } from "./routes/sandbox-streams.ts";
import { registerSandboxRoutes } from "./routes/sandboxes.ts";
import { registerSnapshotRoutes } from "./routes/snapshots.ts";
import { registerTeamStatsRoutes } from "./routes/team-stats.ts";
import { registerTeamRoutes } from "./routes/teams.ts";
import { registerUserRoutes } from "./routes/users.ts";
import { registerWsTicketRoutes } from "./routes/ws-tickets.ts";
import { AdminService } from "./services/admin.ts";
import { ApiKeysService } from "./services/api-keys.ts";
import { AuditLogger } from "./services/audit.ts";
import { AuditQueryService } from "./services/audit-query.ts";
import { AuthService } from "./services/auth.ts";
import { Authenticator } from "./services/authenticator.ts";
import { HostsService } from "./services/hosts.ts";
import { PortTicketsService } from "./services/port-tickets.ts";
import { SandboxFilesService } from "./services/sandbox-files.ts";
import { SandboxForkService } from "./services/sandbox-fork.ts";
import { SandboxMetricsService } from "./services/sandbox-metrics.ts";
import { SandboxProcessesService } from "./services/sandbox-processes.ts";
import { SandboxStreamsService } from "./services/sandbox-streams.ts";
import { SandboxesService } from "./services/sandboxes.ts";
import { SnapshotsService } from "./services/snapshots.ts";
import { TeamStatsService } from "./services/team-stats.ts";
import { type TeamDeletionHook, TeamsService } from "./services/teams.ts";
import { UsersService } from "./services/users.ts";
import { WsTicketsService } from "./services/ws-tickets.ts";

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
  // Audit entries that are lifecycle events also go to the event stream (notification channels).
  const events = new EventPublisher(redis, db, log);
  const audit = new AuditLogger(db, log, events);
  const limiter = new RateLimiter(redis, config.rateLimit.windowSec);
  const hostTokens = new HostTokens(config.jwtSecret);
  const hostPool = deps.hostPool ?? new HostClientPool();
  // Envd access tokens are encrypted at rest with the platform key (WRENN_ENCRYPTION_KEY).
  const box = config.encryption
    ? SecretBox.fromSettings(config.encryption.key, config.encryption.previous)
    : undefined;
  const envdTokens = new EnvdTokenVault(box);
  const sandboxes = new SandboxesService({
    envdTokens,
    db,
    pool: hostPool,
    scheduler: deps.scheduler ?? new LeastLoadedScheduler(),
    audit,
    log,
  });
  const snapshots = new SnapshotsService({ db, pool: hostPool, audit, log });
  // Template builds: jobs on the platform's Redis (BullMQ keeps its own connections and key prefix).
  const builds = new BuildsService({
    db,
    pool: hostPool,
    scheduler: deps.scheduler ?? new LeastLoadedScheduler(),
    snapshots,
    log,
    redisUrl: config.redisUrl,
    queuePrefix: `${redis.options.keyPrefix ?? ""}wrenn-bull`,
    settings: { ...config.builds, readyTimeoutMs: config.builds.readyTimeoutSec * 1000 },
    events,
    // Registry credentials of builds from private images are sealed with the same key.
    box,
  });
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
    log,
    upgrades,
    services: {
      auth: new AuthService(
        db,
        tokens,
        audit,
        limiter,
        config.rateLimit,
        new LoginThrottle(redis, {
          freeFailures: config.rateLimit.perAccount,
          perIpFailures: config.rateLimit.perIp,
          windowSec: config.rateLimit.windowSec,
        }),
      ),
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
    mw: authMiddlewares(new Authenticator(db, tokens)),
    oauth: {
      providers: deps.oauthProviders ?? buildProviderRegistry(config),
      state: new OAuthStateSigner(config.jwtSecret),
    },
  };

  // E2B's end times (`app.e2bDeadlines.start()` runs the expiry pass; the server does).
  const e2bDeadlines = new SandboxDeadlines({ db, sandboxes, log });
  // Sandbox port traffic is routed before the API (and before its body limit): see proxy/.
  const portProxy = new PortProxy({
    db,
    redis,
    log,
    domain: config.proxyDomain,
    agentTls: hostPool.tls,
    envdTokens,
    // E2B's lifecycle.autoResume: proxied traffic resumes a paused sandbox (e2b/auto-resume.ts).
    autoResume: autoResumer({ sandboxes, deadlines: () => e2bDeadlines, log }),
    // Browser tabs opened from the dashboard (port tickets → a signed port session cookie).
    sessionSecret: config.jwtSecret,
    trustProxy: config.trustProxy,
  });
  sandboxes.onStoppedRunning((id) => portProxy.access.invalidate(id));
  upgrades.add(portProxy.upgradeHandler);

  const app = createRouter();
  app.use("*", requestContext(log));
  app.use("*", closeIfBodyUnread());
  app.use("*", portProxy.middleware);
  // After the port proxy: a sandbox's own answers keep their headers.
  app.use("*", securityHeaders({ trustProxy: config.trustProxy }));
  // Before authentication and body limits: a preflight carries no credentials.
  app.use("*", cors(config.cors));
  const globalBodyLimit = bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: (c) =>
      c.json({ code: "invalid_argument", message: `request body exceeds ${config.maxBodyBytes} bytes` }, 413),
  });
  // File uploads set their own, larger limit.
  app.use("*", (c, next) =>
    ownBodyLimitPath.test(c.req.path)
      ? next()
      : buildUploadPath.test(c.req.path) || e2bTemplateUploadPath.test(c.req.path)
        ? buildsBodyLimit(c, next)
        : globalBodyLimit(c, next),
  );
  // One user-text check for every route (REST and /e2b), after the body limit bounded what it reads.
  app.use(
    "*",
    userTextGuard((path) => ownBodyLimitPath.test(path) || e2bTemplateUploadPath.test(path)),
  );
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
  registerAdminRoutes(app, { ...routeDeps, admin: new AdminService(db, audit) });
  registerHostRoutes(app, routeDeps);
  // Before the sandbox routes: `/v1/sandboxes/stats` is not `/v1/sandboxes/{id}`.
  registerTeamStatsRoutes(app, { ...routeDeps, teamStats: new TeamStatsService(db) });
  registerSandboxRoutes(app, routeDeps);
  const forks = new SandboxForkService({
    db,
    pool: hostPool,
    scheduler: deps.scheduler ?? new LeastLoadedScheduler(),
    audit,
    log,
    envdTokens,
  });
  registerSandboxForkRoutes(app, { ...routeDeps, forks });
  registerSandboxFileRoutes(app, { ...routeDeps, files: new SandboxFilesService(sandboxes) });
  registerSandboxMetricsRoutes(app, {
    ...routeDeps,
    metrics: new SandboxMetricsService({ db, sandboxes, log }),
  });
  registerSandboxProcessRoutes(app, { ...routeDeps, processes: new SandboxProcessesService(sandboxes) });
  // Before the rest of /e2b: its catch-all would answer the template-build routes.
  registerE2bForkRoutes(app, { ...routeDeps, deadlines: e2bDeadlines, forks, snapshots });
  registerE2bTemplateRoutes(app, { ...routeDeps, redis, builds, snapshots });
  registerE2bRoutes(app, {
    ...routeDeps,
    deadlines: e2bDeadlines,
    metrics: new SandboxMetricsService({ db, sandboxes, log }),
  });
  const tickets = new WsTicketsService({ db, redis, sandboxes });
  registerWsTicketRoutes(app, { ...routeDeps, tickets });
  registerPortTicketRoutes(app, { ...routeDeps, portTickets: new PortTicketsService({ redis, sandboxes }) });
  registerSandboxStreamRoutes(app, {
    ...routeDeps,
    streams: new SandboxStreamsService({ sandboxes, log }),
    tickets,
  });
  registerSnapshotRoutes(app, { ...routeDeps, snapshots });
  registerBuildRoutes(app, { ...routeDeps, builds });
  registerChannelRoutes(app, {
    ...routeDeps,
    channels: new ChannelsService({
      db,
      audit,
      dashboardUrl: config.dashboardUrl,
      limiter: new RateLimiter(redis, 60),
      ...channelParts(config),
    }),
  });

  app.doc31("/openapi.json", openApiInfo);
  let yamlDoc: string | undefined;
  app.get("/openapi.yaml", (c) => {
    yamlDoc ??= stringify(app.getOpenAPI31Document(openApiInfo));
    return c.body(yamlDoc, 200, { "content-type": "application/yaml; charset=utf-8" });
  });
  mountDocs(app);
  // Last: the dashboard answers only what no API route did.
  mountDashboard(app, { distDir: config.dashboardDir ?? defaultDashboardDir(), log });
  // WebSocket routes cannot live in Hono's fetch routing; the server hands upgrades to these.
  // `builds.start()` runs the worker pool (the server does; tests that build call it themselves).
  return Object.assign(app, { upgrades, builds, e2bDeadlines });
}

/** The control plane app type. */
export type App = ReturnType<typeof createApp>;
