import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createLogger } from "@wrenn/common";
import { freePort } from "@wrenn/db";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { pollUntil } from "@wrenn/testing/poll";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { createTestRedis, type TestRedis } from "@wrenn/testing/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEncryptionKey } from "../crypto/secret-box.ts";
import { systemActor } from "../services/actor.ts";
import { AuditLogger } from "../services/audit.ts";
import { dispatchBacklog, EventPublisher, eventStreamKey } from "./stream.ts";

// Two control plane processes (`main.ts`, as two replicas of a deployment run) on one database
// and one Redis. The receiver stands in for a team's webhook endpoint (external services are
// unreachable from here).

const log = createLogger("two-control-planes-test", process.env.TEST_LOG_LEVEL ?? "silent");
const SIGNING_SECRET = "whsec-two-planes-never-logged";
const mainPath = fileURLToPath(new URL("../main.ts", import.meta.url));
let db: TestDatabase;
let redis: TestRedis;
let receiver: Receiver;
const planes: { url: string; child: ChildProcess; output: () => string }[] = [];

/** Starts `main.ts` as its own process on a free port; resolves once `/health` answers 200. */
async function startPlane(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", mainPath], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env, CP_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const plane = { url: `http://127.0.0.1:${port}`, child, output: () => out };
  planes.push(plane);
  await pollUntil(
    `control plane on ${port} to answer /health`,
    () =>
      child.exitCode === null
        ? fetch(`${plane.url}/health`).then(
            (r) => r.status,
            () => 0,
          )
        : Promise.resolve(-1),
    (status) => status === 200 || status === -1,
    60_000,
  ).then((status) => {
    if (status === -1) throw new Error(`control plane exited:\n${out}`);
  });
  return plane;
}

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createTestRedis();
  receiver = await startReceiver();
  const env = {
    JWT_SECRET: randomBytes(32).toString("hex"),
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    CP_HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    WRENN_ENCRYPTION_KEY: generateEncryptionKey(),
    WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32",
    HOST_MONITOR_INTERVAL_SEC: "3600",
  };
  // One after the other: both migrate the same database.
  for (let i = 0; i < 2; i++) await startPlane(env);
}, 150_000);

afterAll(async () => {
  for (const p of planes) {
    if (p.child.exitCode !== null) continue;
    const exited = new Promise((r) => p.child.once("exit", r));
    p.child.kill("SIGTERM");
    await exited;
  }
  // The servers use the shared Redis without a key prefix: remove this deployment's keys.
  if (db && redis) {
    const raw = new Redis(redis.url);
    const stream = await eventStreamKey(db.db);
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", `${stream}*`, "COUNT", 500);
      cursor = next;
      if (keys.length) await raw.del(...keys);
    } while (cursor !== "0");
    raw.disconnect();
  }
  await receiver?.close();
  await redis?.cleanup();
  await db?.cleanup();
}, 60_000);

async function post(url: string, path: string, body: unknown, token?: string) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("two control planes on one Redis", () => {
  it("deliver every event exactly once per channel", async () => {
    const [one, two] = planes as [(typeof planes)[0], (typeof planes)[0]];
    const signup = await post(one.url, "/v1/auth/signup", {
      name: "Ops",
      email: `ops-${randomUUID()}@example.com`,
      password: "correct horse battery staple",
    });
    expect(signup.status).toBe(201);
    const token = signup.body.token as string;
    const teamUuid = String((signup.body.team as { id: string }).id).replace(/^team-/, "");
    // One channel created through each process.
    for (const [plane, path] of [
      [one, "/a"],
      [two, "/b"],
    ] as const) {
      const ch = await post(
        plane.url,
        "/v1/channels",
        {
          name: `hook${path.replace("/", "-")}`,
          provider: "webhook",
          config: { url: `${receiver.url}${path}`, secret: SIGNING_SECRET },
          events: ["sandbox.auto_paused"],
        },
        token,
      );
      expect(ch.status, JSON.stringify(ch.body)).toBe(201);
    }
    // Events written the way a control plane's audit path writes them (same database, same Redis).
    const raw = new Redis(redis.url);
    try {
      const audit = new AuditLogger(db.db, log, new EventPublisher(raw, db.db, log));
      const n = 20;
      await Promise.all(
        Array.from({ length: n }, () =>
          audit.sandboxAction(systemActor, teamUuid, randomUUID(), "reconcile_paused", { status: "info" }),
        ),
      );
      await receiver.waitFor(2 * n, 20_000);
      // Every event handled by one of the two (none unread, none unacknowledged): no more can come.
      const stream = await eventStreamKey(db.db);
      await pollUntil(
        "both dispatchers to handle every event",
        () => dispatchBacklog(raw, stream),
        (b) => b.pending === 0 && b.unread === 0,
        10_000,
      );
      for (const path of ["/a", "/b"]) {
        const ids = receiver.requests
          .filter((r) => r.path === path)
          .map((r) => r.headers["x-wrenn-delivery"]);
        expect(ids, path).toHaveLength(n);
        expect(new Set(ids).size, path).toBe(n);
      }
      // Each delivery was made by one process: their "delivery succeeded" lines add up to 2n
      // (polled: the lines come through the processes' stdout pipes a little later).
      const succeeded = (p: (typeof planes)[number]) =>
        p
          .output()
          .split("\n")
          .filter((l) => l.includes("channel delivery succeeded")).length;
      const sent = await pollUntil(
        "both processes' delivery log lines",
        async () => planes.map(succeeded),
        (counts) => counts.reduce((a, b) => a + b, 0) >= 2 * n,
        10_000,
      );
      expect(
        sent.reduce((a, b) => a + b, 0),
        JSON.stringify(sent),
      ).toBe(2 * n);
      console.log(`deliveries per control plane process: ${sent.join(" + ")}`);
      for (const p of planes) expect(p.output()).not.toContain(SIGNING_SECRET);
    } finally {
      raw.disconnect();
    }
  }, 60_000);
});
