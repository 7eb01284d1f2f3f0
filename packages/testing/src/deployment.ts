import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "@wrenn/common";
import {
  CertificateAuthority,
  type Config,
  loadConfig,
  type RunningControlPlane,
  startControlPlane,
} from "@wrenn/control-plane";
import { freePort } from "@wrenn/db";
import {
  connectAgent,
  type HostSession,
  type RunningAgent,
  startAgent,
  sweepForkRamDirs,
} from "@wrenn/host-agent";
import { testAgentConfig } from "./app-with-host.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";
import { createTestLogger } from "./recent-logs.ts";
import { createTestRedis, type TestRedis } from "./redis.ts";
import { guardVms, type Leftovers, removedAnything, slotsSetting, type VmGuard } from "./vms.ts";

/**
 * A whole Wrenn deployment for end-to-end tests: a real control plane listening on
 * a loopback port (real PostgreSQL database, real Redis), a real host agent
 * (in-process, QEMU microVMs, netns guest networking as `wrenn up` runs it, in a slot
 * range of its own) registered through the
 * real one-time-token flow over HTTP, and a signed-up user with an API key.
 */
export interface TestDeployment {
  /** Control plane base URL, e.g. `http://127.0.0.1:40123` (also the port proxy / `E2B_SANDBOX_URL`). */
  url: string;
  /** A team API key (`wrn_…`) of {@link teamId}. */
  apiKey: string;
  /** A user session JWT of the same team. */
  token: string;
  /** Session JWT of a platform admin (another team). */
  adminToken: string;
  /** Wire id of the user's team (`team-…`). */
  teamId: string;
  /** Wire id of the registered host (`host-…`). */
  hostId: string;
  controlPlane: RunningControlPlane;
  agent: RunningAgent;
  /** The agent's heartbeat session (stop it to simulate a silent host). */
  session: HostSession;
  /** The agent's data directory (credentials, sandboxes, templates). */
  agentDataDir: string;
  /** The throwaway CA of a deployment started with `tls: true` (PEM), for test clients. */
  ca?: { certPem: string; keyPem: string } | undefined;
  /** The agent's network slots (`WRENN_NET_SLOTS`): its namespaces are `wrenn-ns-{first..last}`. */
  netSlots: { first: number; last: number };
  config: Config;
  database: TestDatabase;
  log: Logger;
  /** Signs up another user (own team) and returns its JWT and a fresh API key. */
  newTeam(name?: string): Promise<{ token: string; apiKey: string; teamId: string }>;
  /**
   * Stops the agent, the control plane, and drops the database. Then, agent alive or not,
   * kills every QEMU under {@link agentDataDir} and removes the networks of {@link netSlots}
   * (VMs outlive a dead agent by design); a process exit before close() kills the VMs too.
   */
  close(): Promise<void>;
}

/** Options of {@link startTestDeployment}. */
export interface TestDeploymentOptions {
  /** Extra control plane environment (see config.ts), e.g. `{ CP_PUBLIC_URL: … }`. */
  env?: Record<string, string>;
  /**
   * Extra host agent flags, appended to `--listen 127.0.0.1:0 --data-dir … --network netns`
   * (so `["--network", "user"]` selects QEMU user-mode networking).
   */
  agentArgs?: string[];
  /** Heartbeat interval of the agent's session (default: the production 30 s). */
  heartbeatMs?: number;
  /**
   * mTLS between control plane and agent: a throwaway CA is generated and given to the
   * control plane as inline PEM (`WRENN_CA_CERT` / `WRENN_CA_KEY`).
   */
  tls?: boolean;
}

/**
 * Starts a {@link TestDeployment}. Fails (never skips) when QEMU or the guest image is
 * missing: `startAgent` and the first sandbox create throw with the reason.
 */
export async function startTestDeployment(options: TestDeploymentOptions = {}): Promise<TestDeployment> {
  let agent: RunningAgent | undefined;
  let session: HostSession | undefined;
  const { ca, env } = await testCa(options.tls, options.env);
  const base = await startControlPlaneAndUsers(env, async (url, admin, agentDataDir, log, guard) => {
    const close = async () => {
      await session?.stop().catch(() => {});
      await agent?.close().catch(() => {});
    };
    try {
      agent = await startAgent(testAgentConfig(agentDataDir, guard, options.agentArgs), log);
      const host = await request(url, "POST", "/v1/hosts", { token: admin, body: { type: "regular" } });
      // As the agent process links itself: heartbeats carry its sandbox report.
      session = await connectAgent(agent, {
        credentialsPath: join(agentDataDir, "host-credentials.json"),
        dataDir: agentDataDir,
        controlPlaneUrl: url,
        registrationToken: host.registration_token,
        address: `127.0.0.1:${agent.server.port}`,
        logger: log,
        onRevoked: async () => {},
        onTlsMaterial: (tls) => agent?.server.setTls(tls),
        ...(options.heartbeatMs ? { intervalMs: options.heartbeatMs } : {}),
      });
      return { hostId: session.credentials.hostId, close };
    } catch (err) {
      await close();
      throw err;
    }
  });
  if (!agent || !session) throw new Error("host agent did not start");
  return { ...base, agent, session, ...(ca ? { ca } : {}) };
}

/** A host agent running as its own OS process, so a test can SIGKILL it and start it again. */
export interface AgentProcess {
  /** The agent's RPC port (kept across restarts: the host row names this address). */
  port: number;
  /** Its data directory (credentials, sandboxes, templates). */
  dataDir: string;
  /** The current process. */
  child: ChildProcess;
  /** Everything the current and earlier processes printed. */
  output(): string;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts the agent again from its saved credentials (no `--register`), once it has started. */
  restart(): Promise<void>;
}

/** A {@link TestDeployment} whose host agent is a separate process ({@link AgentProcess}). */
export type ProcessTestDeployment = Omit<TestDeployment, "agent" | "session"> & {
  agentProcess: AgentProcess;
};

/** Options of {@link startTestDeploymentWithAgentProcess}. */
export interface ProcessTestDeploymentOptions {
  /** Extra control plane environment, e.g. short `HOST_MONITOR_INTERVAL_SEC` / `HOST_STALE_AFTER_SEC`. */
  env?: Record<string, string>;
  /** mTLS between control plane and agent, as {@link TestDeploymentOptions.tls}. */
  tls?: boolean;
  /** Extra agent environment, e.g. `{ WRENN_HEARTBEAT_INTERVAL_MS: "1000" }`. */
  agentEnv?: Record<string, string>;
  /** Extra agent flags, appended to `--listen … --data-dir … --network netns`. */
  agentArgs?: string[];
}

const AGENT_MAIN = fileURLToPath(import.meta.resolve("@wrenn/host-agent/main"));

/**
 * Like {@link startTestDeployment}, but the host agent runs as its own process
 * (`WRENN_REGISTRATION_TOKEN=… host-agent --address … --control-plane …`, netns guest networking),
 * registered through the same one-time-token flow; {@link AgentProcess.restart} starts it
 * again without the token, as an operator restarting a crashed agent would.
 */
export async function startTestDeploymentWithAgentProcess(
  options: ProcessTestDeploymentOptions = {},
): Promise<ProcessTestDeployment> {
  let agentProcess: AgentProcess | undefined;
  const { ca, env } = await testCa(options.tls, options.env);
  const base = await startControlPlaneAndUsers(env, async (url, admin, agentDataDir, _log, guard) => {
    const host = await request(url, "POST", "/v1/hosts", { token: admin, body: { type: "regular" } });
    const port = await freePort();
    const common = ["--listen", `127.0.0.1:${port}`, "--data-dir", agentDataDir, "--network", "netns"];
    common.push(...(options.agentArgs ?? []));
    let out = "";
    const launch = async (args: string[], ready: RegExp, tokenEnv: NodeJS.ProcessEnv = {}) => {
      const child = spawn(process.execPath, ["--import", "tsx", AGENT_MAIN, ...common, ...args], {
        env: {
          ...process.env,
          WRENN_DATA_DIR: process.env.WRENN_DATA_DIR || "/var/lib/wrenn",
          WRENN_NET_SLOTS: slotsSetting(guard.slots),
          LOG_LEVEL: "info",
          ...options.agentEnv,
          ...tokenEnv,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      guard.track(child);
      const onData = (d: Buffer) => {
        out += d.toString();
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      const mark = out.length;
      const deadline = Date.now() + 90_000;
      while (!ready.test(out.slice(mark))) {
        if (child.exitCode !== null) throw new Error(`host agent exited:\n${out.slice(mark)}`);
        if (Date.now() > deadline) throw new Error(`host agent did not start:\n${out.slice(mark)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return child;
    };
    let child = await launch(
      ["--address", `127.0.0.1:${port}`, "--control-plane", url],
      /registered with the control plane/,
      { WRENN_REGISTRATION_TOKEN: host.registration_token },
    );
    const proc: AgentProcess = {
      port,
      dataDir: agentDataDir,
      get child() {
        return child;
      },
      output: () => out,
      async kill(signal) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill(signal);
        await exited;
      },
      async restart() {
        child = await launch([], /host agent started/);
      },
    };
    agentProcess = proc;
    return {
      hostId: host.host.id as string,
      close: async () => {
        // SIGTERM pauses the agent's sandboxes; tests that want them gone destroy them first.
        // A SIGKILLed agent leaves its VMs running: the deployment's guard kills them.
        await proc.kill("SIGTERM");
      },
    };
  });
  if (!agentProcess) throw new Error("agent process did not start");
  return { ...base, agentProcess, ...(ca ? { ca } : {}) };
}

/** With `tls`, a throwaway CA and the control plane environment naming it (inline PEM). */
async function testCa(tls: boolean | undefined, env: Record<string, string> | undefined) {
  if (!tls) return { ca: undefined, env };
  const ca = await CertificateAuthority.generate({ commonName: "Wrenn test CA" });
  return { ca, env: { WRENN_CA_CERT: ca.certPem, WRENN_CA_KEY: ca.keyPem, ...env } };
}

interface BaseDeployment extends Omit<TestDeployment, "agent" | "session" | "hostId" | "agentDataDir"> {
  hostId: string;
  agentDataDir: string;
}

/**
 * The parts every test deployment shares: database, Redis, a listening control plane, an
 * admin and a team with an API key; `startHost` brings up and registers the host agent.
 */
async function startControlPlaneAndUsers(
  env: Record<string, string> | undefined,
  startHost: (
    url: string,
    adminToken: string,
    agentDataDir: string,
    log: Logger,
    /** Reserves the agent's slot range; tracks its process for the exit safety net. */
    guard: VmGuard,
  ) => Promise<{ hostId: string; close: () => Promise<void> }>,
): Promise<BaseDeployment> {
  const log = createTestLogger("test-deployment");
  const database = await createTestDatabase();
  let redis: TestRedis | undefined;
  let controlPlane: RunningControlPlane | undefined;
  let host: { close: () => Promise<void> } | undefined;
  const agentDataDir = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-deploy-"));
  const guard = guardVms(agentDataDir);
  const cleanup = async () => {
    await host?.close().catch(() => {});
    // After the agent stopped (or if it died): its VMs and networks must not outlive the test.
    reportLeftovers(agentDataDir, await guard.release());
    await controlPlane?.close().catch(() => {});
    await redis?.cleanup().catch(() => {});
    await database.cleanup().catch(() => {});
    await rm(agentDataDir, { recursive: true, force: true });
    // Its fork RAM files on the tmpfs, now that their data directory is gone.
    await sweepForkRamDirs();
  };
  try {
    redis = await createTestRedis();
    const parsed = loadConfig({
      JWT_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      CP_HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      // Tests sign up many users from one address.
      AUTH_RATE_LIMIT_PER_IP: "100000",
      AUTH_RATE_LIMIT_PER_ACCOUNT: "100000",
      ...env,
    });
    // Port 0: the kernel picks a free one (CP_PORT itself must name a real port).
    const config: Config = { ...parsed, port: env?.CP_PORT ? parsed.port : 0 };
    controlPlane = await startControlPlane({ config, log, databaseUrl: database.url, redisUrl: redis.url });
    const url = controlPlane.url;
    const admin = await signup(url, "Admin");
    await database.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [admin.user.id.slice(4)]);
    const started = await startHost(url, admin.token, agentDataDir, log, guard);
    host = started;
    const newTeam = async (name = "User") => {
      const user = await signup(url, name);
      const key = await request(url, "POST", "/v1/api-keys", { token: user.token, body: { name: "test" } });
      return { token: user.token, apiKey: key.key as string, teamId: user.team.id };
    };
    const team = await newTeam();
    return {
      url,
      ...team,
      adminToken: admin.token,
      hostId: started.hostId,
      controlPlane,
      agentDataDir,
      netSlots: guard.slots,
      config,
      database,
      log,
      newTeam,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Says on stderr what the agent left behind (expected after a SIGKILL, a bug after a clean stop). */
function reportLeftovers(dataDir: string, left: Leftovers): void {
  const { killed, networks } = left;
  if (!killed.length && !removedAnything(networks) && !networks.failures.length) return;
  const parts = [
    killed.length ? `killed QEMU ${killed.map((p) => p.pid).join(", ")}` : "",
    networks.namespaces.length ? `removed namespaces ${networks.namespaces.join(", ")}` : "",
    networks.links.length ? `removed links ${networks.links.join(", ")}` : "",
    networks.rules ? `removed ${networks.rules} iptables rules` : "",
    networks.failures.length ? `could not remove: ${networks.failures.join("; ")}` : "",
  ];
  process.stderr.write(
    `test deployment ${dataDir}: the host agent left VMs or networks behind: ${parts.filter(Boolean).join("; ")}\n`,
  );
}

let users = 0;
async function signup(url: string, name: string) {
  users++;
  const email = `deploy${users}-${randomBytes(4).toString("hex")}@example.com`;
  return (await request(url, "POST", "/v1/auth/signup", {
    body: { name, email, password: "correct horse battery staple" },
  })) as { token: string; user: { id: string }; team: { id: string } };
}

async function request(
  url: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown },
  // biome-ignore lint/suspicious/noExplicitAny: set-up answers are read loosely
): Promise<any> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(`${url}${path}`, { method, headers, body: JSON.stringify(opts.body ?? {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`test deployment set-up: ${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text);
}
