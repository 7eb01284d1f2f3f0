import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@wrenn/db";
import { afterAll, describe, expect, it } from "vitest";
import { spawnUp } from "./up-harness.ts";

const cli = fileURLToPath(new URL("../main.ts", import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * Starts `wrenn up` without DATABASE_URL/REDIS_URL, so it brings its own PostgreSQL and Redis.
 * No host agent here (it would start microVM networking outside the VM lock): up.vm.test.ts
 * covers the agent.
 */
function startUp(port: number, dataDir: string) {
  return spawnUp(["--port", String(port), "--data-dir", dataDir, "--no-agent"], {
    readyTimeoutMs: 120_000,
    children,
  });
}

function processesOf(dataDir: string, redisPort: string): string[] {
  const out = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter(
      (l) =>
        l.includes(`-D ${join(dataDir, "postgres")}`) || l.includes(`redis-server 127.0.0.1:${redisPort}`),
    );
}

async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("wrenn up", () => {
  it("runs two side-by-side instances, serves the API, stops cleanly, and reuses its data", {
    timeout: 240_000,
  }, async () => {
    const dirA = await mkdtemp(join(tmpdir(), "wrenn-up-a-"));
    const dirB = await mkdtemp(join(tmpdir(), "wrenn-up-b-"));
    dirs.push(dirA, dirB);
    const [portA, portB] = [await freePort(), await freePort()];
    const a = startUp(portA, dirA);
    const b = startUp(portB, dirB);
    await Promise.all([a.ready, b.ready]);

    for (const [inst, port] of [
      [a, portA],
      [b, portB],
    ] as const) {
      expect(inst.output()).toContain(`control plane on http://localhost:${port}`);
      expect(inst.output()).toMatch(/email: +admin@wrenn\.local/);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
    }
    expect((await stat(join(dirA, "secrets.json"))).mode & 0o777).toBe(0o600);

    // The new-user path: signup → login → API key → GET /v1/me with the key.
    const base = `http://127.0.0.1:${portA}`;
    const creds = { email: "new@example.com", password: "correct horse battery" };
    expect((await api(base, "POST", "/v1/auth/signup", { name: "New", ...creds })).status).toBe(201);
    const login = await api(base, "POST", "/v1/auth/login", creds);
    expect(login.status).toBe(200);
    const key = await api(
      base,
      "POST",
      "/v1/api-keys",
      { name: "cli" },
      { authorization: `Bearer ${login.body.token}` },
    );
    expect(key.status).toBe(201);
    const me = await api(base, "GET", "/v1/me", undefined, { "x-api-key": String(key.body.key) });
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ email: "new@example.com" });
    // up generated and kept WRENN_ENCRYPTION_KEY: channels (secrets sealed with it) can be created.
    const saved = JSON.parse(await readFile(join(dirA, "secrets.json"), "utf8"));
    expect(saved.encryption_key).toMatch(/^[0-9a-f]{64}$/);
    const channel = await api(
      base,
      "POST",
      "/v1/channels",
      { name: "ops", provider: "slack", config: { webhook_url: "https://hooks.slack.com/services/T/B/x" } },
      { authorization: `Bearer ${login.body.token}` },
    );
    expect(channel.status).toBe(201);
    // Instance B has its own database.
    expect((await api(`http://127.0.0.1:${portB}`, "POST", "/v1/auth/login", creds)).status).toBe(401);

    const adminPassword = a.output().match(/password: +(\S+)/)?.[1] ?? "";
    const redisA = a.output().match(/Redis on 127\.0\.0\.1:(\d+)/)?.[1] ?? "none";
    const redisB = b.output().match(/Redis on 127\.0\.0\.1:(\d+)/)?.[1] ?? "none";
    expect(processesOf(dirA, redisA)).toHaveLength(2);

    a.child.kill("SIGTERM");
    b.child.kill("SIGINT");
    expect(await a.exit).toBe(0);
    expect(await b.exit).toBe(0);
    expect(processesOf(dirA, redisA)).toEqual([]);
    expect(processesOf(dirB, redisB)).toEqual([]);

    // Second run: same data, no new admin, the old credentials still work.
    const again = startUp(portA, dirA);
    await again.ready;
    expect(again.output()).not.toContain("password:");
    const adminLogin = await api(base, "POST", "/v1/auth/login", {
      email: "admin@wrenn.local",
      password: adminPassword,
    });
    expect(adminLogin.status).toBe(200);
    expect(adminLogin.body.user).toMatchObject({ is_admin: true });
    expect((await api(base, "POST", "/v1/auth/login", creds)).status).toBe(200);
    again.child.kill("SIGTERM");
    expect(await again.exit).toBe(0);
    const redisAgain = again.output().match(/Redis on 127\.0\.0\.1:(\d+)/)?.[1] ?? "none";
    expect(processesOf(dirA, redisAgain)).toEqual([]);
  });

  it("rejects unknown options with a usage error", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, "up", "--bogus"], { stdio: "pipe" });
    children.push(child);
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(2);
    expect(err).toMatch(/Unknown option '--bogus'/);
  });
});
