import { randomBytes } from "node:crypto";
import { pings, startRedisServer } from "@wrenn/control-plane";
import { Redis } from "ioredis";

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
