import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Logger } from "@wrenn/common";
import { connectDatabase, type Database, migrate } from "@wrenn/db";
import { Redis } from "ioredis";
import { type AppDeps, createApp } from "./app.ts";
import { type Config, ConfigError } from "./config.ts";
import { HostMonitor } from "./hosts/monitor.ts";
import { HostClientPool } from "./hosts/pool.ts";
import { AuditLogger } from "./services/audit.ts";
import { AgentTls } from "./tls/agent-tls.ts";
import { CertificateAuthorityError } from "./tls/ca.ts";

/** A running control plane HTTP server. */
export interface RunningControlPlane {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
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
  // Marks silent hosts unreachable and reconciles online ones (HOST_MONITOR_INTERVAL_SEC).
  const monitor = new HostMonitor({
    db: db.db,
    pool: hostPool,
    audit: new AuditLogger(db.db, log),
    log,
    intervalMs: config.hostMonitor.intervalSec * 1000,
    staleAfterMs: config.hostMonitor.staleAfterSec * 1000,
  });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host });
  server.on("upgrade", (req, socket, head) => void app.upgrades.dispatch(req, socket, head, log));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
  } catch (err) {
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
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url, agentTransport: agentTls ? "mtls" : "plain" }, "control plane listening");
  return {
    url,
    port,
    db: db.db,
    async close() {
      ready = false;
      await monitor.stop();
      agentTls?.stop();
      await app.upgrades.close();
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
