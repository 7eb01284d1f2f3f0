import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@wrenn/db";
import { afterAll, describe, expect, it } from "vitest";
import { spawnUp } from "./up-harness.ts";

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Processes of this deployment: its PostgreSQL (by data dir) and its redis-server (by port). */
function processesOf(dataDir: string, redisPort: string): string[] {
  const out = execFileSync("ps", ["-eo", "stat,args"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => !/^\s*Z/.test(l)) // a reaped-late zombie is not running
    .filter(
      (l) =>
        l.includes(`-D ${join(dataDir, "postgres")}`) || l.includes(`redis-server 127.0.0.1:${redisPort}`),
    );
}

/** uid/gid of the `postgres` user, which embedded PostgreSQL runs as under root. */
function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

async function api(base: string, method: string, path: string, body?: unknown, headers = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("wrenn up after kill -9", () => {
  it("its PostgreSQL and Redis die with it, and the next up starts on the same data despite a stale lock", {
    timeout: 240_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "wrenn-up-crash-"));
    dirs.push(dir);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const args = ["--port", String(port), "--data-dir", dir, "--no-agent"];
    const first = spawnUp(args, { readyTimeoutMs: 120_000, children });
    await first.ready;

    const creds = { email: "crash@example.com", password: "correct horse battery" };
    expect((await api(base, "POST", "/v1/auth/signup", { name: "Crash", ...creds })).status).toBe(201);
    const login = await api(base, "POST", "/v1/auth/login", creds);
    const key = await api(
      base,
      "POST",
      "/v1/api-keys",
      { name: "kept" },
      { authorization: `Bearer ${login.body.token}` },
    );
    expect(key.status).toBe(201);

    const redisPort = first.output().match(/Redis on 127\.0\.0\.1:(\d+)/)?.[1] ?? "none";
    expect(processesOf(dir, redisPort)).toHaveLength(2);
    first.child.kill("SIGKILL"); // no handler, no exit hook runs
    await first.exit;

    // The parent-death watcher ends both children (PostgreSQL with a fast shutdown).
    const deadline = Date.now() + 30_000;
    while (processesOf(dir, redisPort).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(processesOf(dir, redisPort)).toEqual([]);

    // A lock file left by a server that died without its shutdown, whose pid now belongs to an
    // unrelated live process PostgreSQL may signal (so run as its user when we are root; and not
    // this runner: PostgreSQL ignores its own grandparent's pid). PostgreSQL alone refuses to start.
    const ids = process.getuid?.() === 0 ? postgresIds() : {};
    const unrelated = spawn("sleep", ["120"], { stdio: "ignore", ...ids });
    children.push(unrelated);
    const dataDir = join(dir, "postgres");
    await writeFile(
      join(dataDir, "postmaster.pid"),
      `${unrelated.pid}\n${dataDir}\n1700000000\n5432\n\n127.0.0.1\n`,
    );

    const second = spawnUp(args, { readyTimeoutMs: 120_000, children });
    await second.ready;
    // Data intact: the account and the key made before the crash still work.
    expect((await api(base, "POST", "/v1/auth/login", creds)).status).toBe(200);
    const me = await api(base, "GET", "/v1/me", undefined, { "x-api-key": String(key.body.key) });
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ email: creds.email });
    second.child.kill("SIGTERM");
    expect(await second.exit).toBe(0);
  });
});
