import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { EnvdTarget } from "./envd-target.ts";

// envd is built from its own package (the same artifact the guest image ships).
const envdRoot = join(dirname(fileURLToPath(import.meta.resolve("@wrenn/envd"))), "..");

/** Builds the envd artifact (the same one the guest image ships) into `outdir`. */
export async function buildEnvdBundle(outdir: string): Promise<string> {
  await promisify(execFile)(process.execPath, [join(envdRoot, "build.mjs"), "--outdir", outdir], {
    cwd: envdRoot,
  });
  return join(outdir, "envd.mjs");
}

/**
 * The Node flags the guest's envd launcher passes (images/guest/envd-wrapper.sh),
 * so envd on the host runs with the same V8 settings as in a microVM.
 */
export async function guestEnvdNodeFlags(): Promise<string[]> {
  const wrapper = await readFile(join(envdRoot, "../../images/guest/envd-wrapper.sh"), "utf8");
  const launch = /^exec \S+\/node((?:\s+--[\w=-]+)*)/m.exec(wrapper);
  if (!launch?.[1]) throw new Error("envd-wrapper.sh: no `exec .../node --flags` line");
  return launch[1].trim().split(/\s+/);
}

/** A free TCP port on loopback (closed again before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Resident set size of a process, in KiB, from /proc. */
export async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/** envd running on the host as a child process, with its own accounts and temp dir. */
export interface HostEnvd {
  target: EnvdTarget;
  child: ChildProcess;
  /** Milliseconds from spawn until /health answered. */
  startupMs: number;
  /** envd's own "envd listening" log line (port-open and ready times since its process started). */
  startupLine(): string;
  stop(): Promise<void>;
}

/**
 * Starts the bundled envd on the host as root on a random port. Its passwd
 * and group files live in a temp dir and name uid 1000 `user` with a home in
 * that dir, so user switching works without touching the host's accounts;
 * the clock is never set and localhost servers are forwarded on 127.0.0.2.
 */
export async function startHostEnvd(): Promise<HostEnvd> {
  const dir = await mkdtemp(join(tmpdir(), "envd-host-"));
  await chmod(dir, 0o755);
  const bundle = await buildEnvdBundle(join(dir, "dist"));
  const rootHome = join(dir, "root");
  const userHome = join(dir, "home/user");
  await mkdir(rootHome, { mode: 0o700 });
  await mkdir(userHome, { recursive: true, mode: 0o755 });
  await chmod(join(dir, "home"), 0o755);
  await chown(userHome, 1000, 1000);
  await writeFile(
    join(dir, "passwd"),
    `root:x:0:0:root:${rootHome}:/bin/bash\nuser:x:1000:1000::${userHome}:/bin/bash\n`,
  );
  await writeFile(join(dir, "group"), "root:x:0:\nuser:x:1000:\n");
  const forwardedGuestPort = await freePort();

  const port = await freePort();
  const nodeFlags = await guestEnvdNodeFlags();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      bundle,
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--passwd-file",
      join(dir, "passwd"),
      "--group-file",
      join(dir, "group"),
      "--no-clock-sync",
      "--forward-addresses",
      "127.0.0.2",
      "--port-scan-interval-ms",
      "300",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info" } },
  );
  let stderr = "";
  child.stderr?.on("data", (data) => {
    stderr += data;
  });
  let startupLine = "";
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on("line", (line) => {
    if (line.includes('"envd listening"')) startupLine = line;
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`envd exited with ${code}: ${stderr}`))),
  );
  exited.catch(() => undefined);
  const baseUrl = `http://127.0.0.1:${port}`;
  const healthy = (async () => {
    for (;;) {
      const res = await fetch(`${baseUrl}/health`).catch(() => undefined);
      if (res?.status === 204) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  await Promise.race([healthy, exited]);
  const startupMs = performance.now() - started;
  const pid = child.pid as number;
  return {
    child,
    startupMs,
    startupLine: () => startupLine,
    target: {
      baseUrl,
      scratchDir: join(dir, "scratch"),
      userHome,
      envdRssKb: () => rssKb(pid),
      forwardedPort: { guestPort: forwardedGuestPort, url: `http://127.0.0.2:${forwardedGuestPort}` },
      clockSync: false,
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
