import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { freePort } from "@wrenn/db";
import { Redis } from "ioredis";

/** A `redis-server` child process. */
export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** Resolves when the process has exited (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** The child, so supervisors can watch for unexpected exits. */
  child: ChildProcess;
}

/** Thrown when the `redis-server` binary is missing. */
export class RedisNotInstalledError extends Error {
  override readonly name = "RedisNotInstalledError";
}

/**
 * Spawns `redis-server` bound to 127.0.0.1 on `port` (a free one by default).
 * With `dir`, data is persisted there (RDB snapshots); without, nothing is saved.
 * Resolves once the server answers PING.
 */
export async function startRedisServer(
  options: { port?: number; dir?: string; binary?: string; onLog?: (line: string) => void } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--protected-mode", "yes"];
  if (options.dir) {
    await mkdir(options.dir, { recursive: true });
    args.push("--dir", options.dir, "--save", "60 1", "--appendonly", "no");
  } else {
    args.push("--save", "", "--appendonly", "no");
  }
  // Own process group: a terminal Ctrl-C reaches only our process, which stops components in order.
  const child = spawn(options.binary ?? "redis-server", args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const log = options.onLog ?? (() => undefined);
  child.stdout?.on("data", (b: Buffer) => log(b.toString()));
  child.stderr?.on("data", (b: Buffer) => log(b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new RedisNotInstalledError(
              "redis-server not found: install it (Debian: apt-get install redis-server, or run scripts/install-system-deps) or set REDIS_URL",
            )
          : err,
      ),
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await Promise.race([spawnError, waitForPing(url, exited)]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, pid: child.pid ?? 0, stop, child };
}

async function waitForPing(url: string, exited: Promise<void>): Promise<void> {
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error("redis-server exited during start-up");
    if (await pings(url)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("redis-server did not answer within 10 s");
}

/** True when a Redis server at `url` answers PING. */
export async function pings(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
