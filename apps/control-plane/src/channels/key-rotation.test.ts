import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { loggerOptions } from "@wrenn/common";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { createTestRedis, type TestRedis } from "@wrenn/testing/redis";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { generateEncryptionKey, SecretBox } from "../crypto/secret-box.ts";
import { type RunningControlPlane, startControlPlane } from "../server.ts";
import { channelSecretContext } from "./service.ts";
import { eventStreamKey } from "./stream.ts";

// The README's key rotation, step by step, on real control plane servers (PostgreSQL, Redis):
// start with key A; restart with key B and A as previous (configs re-sealed at start-up); restart
// with B alone, and the channel still delivers. The receiver stands in for a webhook endpoint.

const logLines: string[] = [];
const log = pino(
  loggerOptions("key-rotation-test", "info"),
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);
const SIGNING_SECRET = "whsec-rotation-never-logged";
const jwtSecret = randomBytes(32).toString("hex");
let db: TestDatabase;
let redis: TestRedis;
let rx: Receiver;
let plane: RunningControlPlane | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createTestRedis();
  rx = await startReceiver();
});

afterAll(async () => {
  await plane?.close();
  if (db && redis) {
    const raw = new Redis(redis.url);
    const stream = await eventStreamKey(db.db);
    const keys = await raw.keys(`${stream}*`);
    if (keys.length) await raw.del(...keys);
    raw.disconnect();
  }
  await rx?.close();
  await redis?.cleanup();
  await db?.cleanup();
});

/** (Re)starts the control plane with these keys. */
async function start(key: string, previous?: string): Promise<RunningControlPlane> {
  await plane?.close();
  const config = loadConfig({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    CP_HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    WRENN_ENCRYPTION_KEY: key,
    ...(previous ? { WRENN_ENCRYPTION_KEY_PREVIOUS: previous } : {}),
    WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32",
    HOST_MONITOR_INTERVAL_SEC: "3600",
  });
  plane = await startControlPlane({
    config: { ...config, port: 0 },
    log,
    databaseUrl: db.url,
    redisUrl: redis.url,
  });
  return plane;
}

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${plane?.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function ciphertext(channelWireId: string): Promise<Buffer> {
  const { rows } = await db.pool.query("SELECT config_encrypted FROM channels WHERE id = $1", [
    channelWireId.replace(/^ch-/, ""),
  ]);
  return rows[0].config_encrypted as Buffer;
}

describe("WRENN_ENCRYPTION_KEY rotation (README steps)", () => {
  it("re-seals channel configs at start-up under the new key; the old key can then be removed", async () => {
    const keyA = generateEncryptionKey();
    const keyB = generateEncryptionKey();
    await start(keyA);
    const signup = await fetch(`${plane?.url}/v1/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "Ops",
        email: `ops-${randomUUID()}@example.com`,
        password: "correct horse battery staple",
      }),
    });
    const token = ((await signup.json()) as { token: string }).token;
    const created = await call("POST", "/v1/channels", token, {
      name: "hook",
      provider: "webhook",
      config: { url: `${rx.url}/hook`, secret: SIGNING_SECRET },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const context = channelSecretContext(id.replace(/^ch-/, ""));
    expect(SecretBox.fromSettings(keyA).openJson(await ciphertext(id), context)).toMatchObject({
      secret: SIGNING_SECRET,
    });

    // Step 2: the new key, the old one as previous: the config is re-sealed at start-up.
    await start(keyB, keyA);
    expect(logLines.some((l) => l.includes("channel configs re-encrypted"))).toBe(true);
    const resealed = await ciphertext(id);
    expect(() => SecretBox.fromSettings(keyA).openJson(resealed, context)).toThrow();
    expect(SecretBox.fromSettings(keyB).openJson(resealed, context)).toMatchObject({
      secret: SIGNING_SECRET,
    });

    // Step 3: the new key alone. The channel still reads (masked) and delivers, signed as before.
    await start(keyB);
    const shown = await call("GET", `/v1/channels/${id}`, token);
    // Both values are 24+ characters: masked to their last 4.
    expect(shown.body.config).toEqual({ url: "••••hook", secret: "••••gged" });
    const test = await call("POST", `/v1/channels/${id}/test`, token);
    expect(test.body).toEqual({ ok: true, status: 200 });
    expect(rx.requests).toHaveLength(1);
    expect(rx.requests[0]?.headers["x-wrenn-signature"]).toMatch(/^v1=[0-9a-f]{64}$/);

    // A config sealed with a key that is gone (A alone now) is reported, not a 500.
    await start(keyA);
    const lost = await call("POST", `/v1/channels/${id}/test`, token);
    expect(lost.status).toBe(409);
    expect(String(lost.body.message)).toMatch(/cannot be decrypted with the configured WRENN_ENCRYPTION_KEY/);
    expect(logLines.filter((l) => l.includes(SIGNING_SECRET))).toEqual([]);
  }, 120_000);
});
