import { randomBytes } from "node:crypto";
import { createLogger, type Logger } from "@wrenn/common";
import { createTestDatabase, type TestDatabase } from "@wrenn/db";
import { Redis } from "ioredis";
import { type App, type AppDeps, createApp } from "./app.ts";
import { type Config, loadConfig } from "./config.ts";
import { pings, startRedisServer } from "./infra/redis-server.ts";

/** A Redis connection private to one test file (own key prefix, or own server). */
export interface TestRedis {
  redis: Redis;
  url: string;
  cleanup(): Promise<void>;
}

/**
 * Connects to `TEST_REDIS_URL`, else 127.0.0.1:6379 when it answers, else a
 * `redis-server` started for this file. Keys get a random prefix so files can
 * share a server.
 */
export async function createTestRedis(): Promise<TestRedis> {
  // TEST_REDIS_URL=spawn forces a private redis-server (what a bare CI machine gets).
  const forced = process.env.TEST_REDIS_URL;
  let url = forced === "spawn" ? undefined : forced;
  let stop: (() => Promise<void>) | undefined;
  if (!url && forced !== "spawn" && (await pings("redis://127.0.0.1:6379"))) url = "redis://127.0.0.1:6379";
  if (!url) {
    const server = await startRedisServer();
    url = server.url;
    stop = server.stop;
  }
  const prefix = `wrenn-test-${randomBytes(5).toString("hex")}:`;
  const redis = new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 2 });
  return {
    redis,
    url,
    async cleanup() {
      // keyPrefix is not applied to SCAN patterns, so match it explicitly.
      const raw = new Redis(url);
      let cursor = "0";
      do {
        const [next, keys] = await raw.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
        cursor = next;
        if (keys.length) await raw.del(...keys);
      } while (cursor !== "0");
      raw.disconnect();
      redis.disconnect();
      await stop?.();
    },
  };
}

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
  const log = createLogger("control-plane-test", process.env.TEST_LOG_LEVEL ?? "silent");
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
