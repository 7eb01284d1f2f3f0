import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { freePort } from "@wrenn/db";
import { createTestDatabase, type TestDatabase } from "@wrenn/testing/db";
import { createTestRedis, type TestRedis } from "@wrenn/testing/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url));
const children: ChildProcess[] = [];
let db: TestDatabase;
let redis: TestRedis;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createTestRedis();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await redis?.cleanup();
  await db?.cleanup();
});

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", mainPath], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exit, output: () => output };
}

describe("control plane process", () => {
  it("starts, migrates, answers /health, and exits 0 on SIGTERM", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const p = run({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      JWT_SECRET: randomBytes(32).toString("hex"),
      CP_HOST: "127.0.0.1",
      CP_PORT: String(port),
    });
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && p.child.exitCode === null) {
      status = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status, p.output()).toBe(200);
    const me = await fetch(`http://127.0.0.1:${port}/v1/me`);
    expect(me.status).toBe(401);
    expect(me.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    p.child.kill("SIGTERM");
    expect(await p.exit).toBe(0);
    // The logs never carry secrets.
    expect(p.output()).not.toContain(db.url.split("@")[0]?.split(":").at(-1) ?? "never");
  });

  it("refuses to start with a clear one-line message when configuration is missing", async () => {
    const p = run({ DATABASE_URL: db.url });
    expect(await p.exit).toBe(1);
    expect(p.output().trim()).toBe(
      "control-plane: configuration error: JWT_SECRET is required: Invalid input: expected string, received undefined",
    );
  });
});
