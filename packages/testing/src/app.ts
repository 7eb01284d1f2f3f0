import { randomBytes, randomUUID } from "node:crypto";
import type { Logger } from "@wrenn/common";
import { type App, type AppDeps, type Config, createApp, loadConfig } from "@wrenn/control-plane";
import { createSandboxRow, type SandboxState, updateSandbox } from "@wrenn/db";
import { createTestDatabase, type TestDatabase } from "./db.ts";
import { createTestLogger } from "./recent-logs.ts";
import { createTestRedis, type TestRedis } from "./redis.ts";

/** A control plane app on a fresh database and private Redis keyspace. */
export interface TestApp {
  app: App;
  config: Config;
  db: TestDatabase;
  redis: TestRedis;
  log: Logger;
  cleanup(): Promise<void>;
}

/** Builds the real app against real PostgreSQL and Redis for one test file. */
export async function createTestApp(
  options: { env?: Record<string, string>; deps?: Partial<AppDeps> } = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const config = loadConfig({
    JWT_SECRET: randomBytes(32).toString("hex"),
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: "silent",
    ...options.env,
  });
  // Warnings and errors are kept for a failing VM test's report (a build's internal error, say).
  const log = createTestLogger("control-plane-test");
  const app = createApp({ config, db: db.db, redis: redis.redis, log, ...options.deps });
  return {
    app,
    config,
    db,
    redis,
    log,
    async cleanup() {
      await redis.cleanup();
      await db.cleanup();
    },
  };
}

/** A parsed response of {@link call}. */
export interface CallResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected loosely
  body: any;
  headers: Headers;
}

/**
 * Sends one request through `app.request()`. `body` objects are JSON-encoded;
 * strings are sent as-is (for malformed JSON tests).
 */
export async function call(
  app: App,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; apiKey?: string; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apiKey) headers["x-api-key"] = opts.apiKey;
  const body =
    opts.body === undefined
      ? undefined
      : typeof opts.body === "string"
        ? opts.body
        : JSON.stringify(opts.body);
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (docs, yaml)
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

let counter = 0;
/** Signs up a fresh user and returns the session answer plus the password used. */
export async function signupUser(app: App, name = "Test User") {
  counter++;
  const email = `user${counter}-${randomBytes(4).toString("hex")}@example.com`;
  const password = "correct horse battery staple";
  const res = await call(app, "POST", "/v1/auth/signup", { body: { name, email, password } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    ...(res.body as { token: string; user: { id: string; email: string }; team: { id: string } }),
    password,
  };
}

/**
 * Inserts an `online` regular host straight into the database (nothing listens at `address`):
 * for tests of placement and access rules that need a host row but no agent. Answers its id.
 */
export async function insertOnlineHost(t: TestApp, address = "127.0.0.1:7001"): Promise<string> {
  const { rows } = await t.db.pool.query(
    "INSERT INTO hosts (type, status, address) VALUES ('regular', 'online', $1) RETURNING id",
    [address],
  );
  return rows[0].id;
}

/**
 * Inserts a 1 vCPU / 512 MiB sandbox row of the `minimal` template in `state` straight into the
 * database (no VM behind it): for tests of rules that read sandbox rows. Answers its id.
 */
export async function insertSandbox(
  t: TestApp,
  row: { teamId: string; hostId: string; state: SandboxState; envdAccessToken?: string | null },
): Promise<string> {
  const id = randomUUID();
  await createSandboxRow(t.db.db, {
    id,
    teamId: row.teamId,
    hostId: row.hostId,
    template: "minimal",
    templateId: "00000000-0000-0000-0000-000000000000",
    vcpus: 1,
    memoryMb: 512,
    diskSizeMb: 5120,
    timeoutSec: 0,
    metadata: {},
    envdAccessToken: row.envdAccessToken ?? null,
  });
  await updateSandbox(t.db.db, id, { state: row.state });
  return id;
}
