import type { AddressInfo } from "node:net";
import { getRequestListener, serve } from "@hono/node-server";
import type { Logger } from "@wrenn/common";
import { connectDatabase, type Database, migrate } from "@wrenn/db";
import { Redis } from "ioredis";
import { type AppDeps, createApp } from "./app.ts";
import { ChannelDispatcher } from "./channels/dispatcher.ts";
import { ChannelsService } from "./channels/service.ts";
import { channelParts } from "./channels/setup.ts";
import { EventPublisher } from "./channels/stream.ts";
import { type Config, ConfigError } from "./config.ts";
import { EnvdTokenVault, resealEnvdTokens } from "./crypto/envd-tokens.ts";
import { HostClientPool } from "./hosts/pool.ts";
import { JobLeases } from "./infra/job-lease.ts";
import { rewriteE2bApiHost, withE2bApiHost } from "./proxy/api-host.ts";
import { AuditLogger } from "./services/audit.ts";
import { HostMonitor } from "./services/host-monitor.ts";
import { TeamStatsSampler } from "./stats/sampler.ts";
import { AgentTls } from "./tls/agent-tls.ts";
import { CertificateAuthorityError } from "./tls/ca.ts";
import { type PublicTlsListener, startPublicTlsListener } from "./tls/public-tls.ts";

/** A running control plane HTTP server. */
export interface RunningControlPlane {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** The HTTPS listener's base URL (`WRENN_TLS_PORT`), e.g. `https://127.0.0.1:8443`; undefined without one. */
  tlsUrl?: string | undefined;
  /** The certificate the HTTPS listener serves now (PEM); undefined without one. */
  tlsCertPem?: (() => string) | undefined;
  /** The server's database pool (for start-up tasks such as creating the first admin). */
  db: Database;
  /** Stops accepting connections and closes the database pool and Redis. */
  close(): Promise<void>;
}

/**
 * Migrates the database at `databaseUrl`, connects Redis, and serves the app
 * on `config.host:config.port`. `/health` turns 200 once everything is up.
 */
export async function startControlPlane(options: {
  config: Config;
  log: Logger;
  databaseUrl: string;
  redisUrl: string;
  deps?: Partial<AppDeps>;
}): Promise<RunningControlPlane> {
  const { config, log } = options;
  const agentTls = config.ca ? await loadAgentTls(config.ca, log) : undefined;
  const applied = await migrate(options.databaseUrl);
  if (applied.length) log.info({ applied }, "database migrated");
  // Connection-level errors (e.g. the database restarting) are reported briefly;
  // the pool reconnects on the next query. Full error objects would dump client internals.
  // 57P01 is an orderly server shutdown (Ctrl-C reaches PostgreSQL directly under `wrenn up`).
  const db = connectDatabase(options.databaseUrl, {
    onError: (err) => {
      const code = (err as { code?: string }).code;
      log[code === "57P01" ? "debug" : "warn"]({ code, error: err.message }, "database connection lost");
    },
  });
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on("error", (err: Error) => log.warn({ error: err.message }, "redis connection error"));
  try {
    await redis.ping();
  } catch (err) {
    await db.close();
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${options.redisUrl.replace(/\/\/[^@]*@/, "//")}`, { cause: err });
  }
  let ready = false;
  // The pool carries the mTLS settings: the app takes the CA and the port proxy's TLS from it.
  const hostPool = options.deps?.hostPool ?? new HostClientPool({ tls: agentTls });
  agentTls?.start();
  const app = createApp({ config, db: db.db, redis, log, isReady: () => ready, hostPool, ...options.deps });
  // Background work audits through the event stream too (auto-pause, host state → channels).
  const audit = new AuditLogger(db.db, log, new EventPublisher(redis, db.db, log));
  // Delivers lifecycle events to notification channels; every control plane runs one (consumer group).
  const parts = channelParts(config);
  const dispatcher = new ChannelDispatcher({
    db: db.db,
    redis,
    log: log.child({ component: "channels" }),
    audit,
    dashboardUrl: config.dashboardUrl,
    retryDelaysMs: config.channels.retryDelaysMs,
    disableAfter: config.channels.disableAfter,
    ...parts,
  });
  // Periodic jobs run once across control planes sharing this PostgreSQL and Redis (one lease each).
  const leases = new JobLeases(redis, log);
  // Marks silent hosts unreachable and reconciles online ones (HOST_MONITOR_INTERVAL_SEC).
  const monitor = new HostMonitor({
    leases,
    db: db.db,
    pool: hostPool,
    audit,
    log,
    intervalMs: config.hostMonitor.intervalSec * 1000,
    staleAfterMs: config.hostMonitor.staleAfterSec * 1000,
  });
  // Team usage samples for GET /v1/sandboxes/stats (STATS_SAMPLE_INTERVAL_SEC, STATS_RETENTION_DAYS).
  const statsSampler = new TeamStatsSampler({
    leases,
    db: db.db,
    log,
    intervalMs: config.stats.intervalSec * 1000,
    retentionDays: config.stats.retentionDays,
  });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host });
  server.on("upgrade", (req, socket, head) => void app.upgrades.dispatch(req, socket, head, log));
  // E2B's API host (`api.{WRENN_PROXY_DOMAIN}`) serves /e2b at its root; runs before Hono's listener.
  server.prependListener("request", (req) => rewriteE2bApiHost(req, config.proxyDomain));
  let tls: PublicTlsListener | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    if (config.tls) {
      tls = await startPublicTlsListener({
        config: config.tls,
        domain: config.proxyDomain,
        ca: agentTls?.ca,
        listener: withE2bApiHost(config.proxyDomain, getRequestListener(app.fetch)),
        onUpgrade: (req, socket, head) => void app.upgrades.dispatch(req, socket, head, log),
        log,
      });
    }
  } catch (err) {
    server.close();
    agentTls?.stop();
    redis.disconnect();
    await db.close();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `${config.host}:${config.port} is already in use (choose another port: --port / CP_PORT)`,
      );
    }
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  ready = true;
  monitor.start();
  app.e2bDeadlines.start(leases);
  // Build workers (BUILD_WORKERS); builds an earlier process left half-done are failed here.
  await app.builds.start();
  await dispatcher.start();
  const resealed = await new ChannelsService({ db: db.db, audit, dashboardUrl: undefined, ...parts })
    .reencryptStale()
    .catch((err: Error) => {
      log.error({ error: err.message }, "re-encrypting channel configs under the current key failed");
      return 0;
    });
  if (resealed)
    log.info({ channels: resealed }, "channel configs re-encrypted under the current WRENN_ENCRYPTION_KEY");
  if (!parts.box)
    log.warn(
      "WRENN_ENCRYPTION_KEY is not set: sandboxes' envd access tokens are stored in plain text (set it in production)",
    );
  // Envd tokens stored before encryption (or under a previous key) are sealed under the current key.
  const resealedTokens = await resealEnvdTokens(db.db, new EnvdTokenVault(parts.box)).catch(
    (err: unknown) => {
      log.error({ err }, "encrypting stored envd access tokens failed");
      return 0;
    },
  );
  if (resealedTokens)
    log.info({ sandboxes: resealedTokens }, "envd access tokens encrypted under the current key");
  statsSampler.start();
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url, tlsUrl: tls?.url, agentTransport: agentTls ? "mtls" : "plain" }, "control plane listening");
  return {
    url,
    port,
    tlsUrl: tls?.url,
    tlsCertPem: tls?.certPem,
    db: db.db,
    async close() {
      ready = false;
      await monitor.stop();
      await app.e2bDeadlines.stop();
      await app.builds.close();
      await dispatcher.stop();
      await statsSampler.stop();
      // Hands the jobs to another control plane at once instead of after the leases lapse.
      await leases.releaseAll();
      agentTls?.stop();
      await app.upgrades.close();
      await tls?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      redis.disconnect();
      await db.close();
    },
  };
}

/** The CA and first client certificate; an unusable CA is a configuration error naming the variables. */
async function loadAgentTls(ca: { certPem: string; keyPem: string }, log: Logger): Promise<AgentTls> {
  try {
    return await AgentTls.create(ca, { log });
  } catch (err) {
    if (err instanceof CertificateAuthorityError)
      throw new ConfigError(`WRENN_CA_CERT / WRENN_CA_KEY: ${err.message}`);
    throw err;
  }
}
