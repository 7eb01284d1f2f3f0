import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { startEmbeddedPostgres } from "@wrenn/db";
import { ConfigError, loadConfig, loadDotEnv } from "./config.ts";
import { startControlPlane } from "./server.ts";

/**
 * The control plane process: config → database (embedded PostgreSQL under the
 * data dir when DATABASE_URL is unset; migrated at start) → Redis → HTTP.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    loadDotEnv();
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`control-plane: configuration error: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger("control-plane", config.logLevel);
  let stopPostgres: (() => Promise<void>) | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: join(config.dataDir, "postgres"),
      onLog: (line) => log.debug({ component: "postgres" }, line.trim()),
    });
    databaseUrl = pg.url;
    stopPostgres = pg.stop;
    log.info({ port: pg.port }, "embedded PostgreSQL started");
  }
  const cp = await startControlPlane({ config, log, databaseUrl, redisUrl: config.redisUrl });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await cp.close().catch((err) => log.error({ err }, "close failed"));
    await stopPostgres?.().catch((err) => log.error({ err }, "postgres stop failed"));
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(`control-plane: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
