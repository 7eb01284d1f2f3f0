import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@wrenn/common";
import { HostClientPool } from "@wrenn/control-plane";
import {
  type AgentConfig,
  connectToControlPlane,
  type HostSession,
  loadConfig as loadAgentConfig,
  type RunningAgent,
  startAgent,
  sweepForkRamDirs,
} from "@wrenn/host-agent";
import { call, createTestApp, type TestApp } from "./app.ts";
import { signupAdmin } from "./hosts.ts";
import { createTestLogger } from "./recent-logs.ts";
import { guardVms, type Leftovers, slotsSetting, type VmGuard } from "./vms.ts";

/**
 * The configuration of a test host agent living in `dataDir`: loopback RPC port picked by the
 * kernel, netns guest networking (what `wrenn up` runs) in the slot range `guard` reserved,
 * the machine's guest image; `agentArgs` come last, so `["--network", "user"]` overrides.
 */
export function testAgentConfig(dataDir: string, guard: VmGuard, agentArgs: string[] = []): AgentConfig {
  return loadAgentConfig(
    ["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--network", "netns", ...agentArgs],
    {
      WRENN_DATA_DIR: process.env.WRENN_DATA_DIR || "/var/lib/wrenn",
      WRENN_NET_SLOTS: slotsSetting(guard.slots),
      ...(process.env.WRENN_ACCEL ? { WRENN_ACCEL: process.env.WRENN_ACCEL } : {}),
    },
  );
}

/**
 * A control plane app driven in-process (`app.request`, no socket) with a REAL host agent
 * (in-process, QEMU microVMs) registered through the real one-time-token flow, its HTTP calls
 * going straight into the app; the agent keeps heartbeating as in production.
 */
export interface TestAppWithHost {
  t: TestApp;
  agent: RunningAgent;
  session: HostSession;
  /** The app's pool of agent clients (e.g. for a `HostMonitor` a test runs itself). */
  pool: HostClientPool;
  /** The agent's data directory (credentials, sandboxes, templates). */
  dataDir: string;
  /** Database id of the registered host (its wire id without `host-`). */
  hostUuid: string;
  /** Session JWT of the platform admin that registered the host. */
  adminToken: string;
  log: Logger;
  /**
   * Stops the agent and drops the app's database, then kills whatever QEMU is still running
   * under {@link dataDir} and removes the agent's networks (see `guardVms`). Returns what had
   * to be removed that way.
   */
  close(): Promise<Leftovers>;
}

/** Options of {@link startTestAppWithHost}. */
export interface TestAppWithHostOptions {
  /** Names the logger and the data directory (`wrenn-<name>-…`). */
  name: string;
  /** Extra agent flags (see {@link testAgentConfig}). */
  agentArgs?: string[];
}

/**
 * Starts a {@link TestAppWithHost}. Fails (never skips) when QEMU or the guest image is
 * missing: `startAgent` and the first create throw with the reason.
 */
export async function startTestAppWithHost(options: TestAppWithHostOptions): Promise<TestAppWithHost> {
  const log = createTestLogger(options.name);
  const pool = new HostClientPool();
  const t = await createTestApp({ deps: { hostPool: pool } });
  const dataDir = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), `wrenn-${options.name}-`));
  const guard = guardVms(dataDir);
  let agent: RunningAgent | undefined;
  let session: HostSession | undefined;
  const close = async () => {
    await session?.stop().catch(() => {});
    await agent?.close().catch(() => {});
    const left = await guard.release();
    await t.cleanup();
    await rm(dataDir, { recursive: true, force: true });
    await sweepForkRamDirs();
    return left;
  };
  try {
    agent = await startAgent(testAgentConfig(dataDir, guard, options.agentArgs), log);
    const admin = await signupAdmin(t);
    const created = await call(t.app, "POST", "/v1/hosts", { token: admin.token, body: { type: "regular" } });
    session = await connectToControlPlane({
      credentialsPath: join(dataDir, "host-credentials.json"),
      dataDir,
      controlPlaneUrl: "http://control-plane.test",
      registrationToken: created.body.registration_token,
      address: `127.0.0.1:${agent.server.port}`,
      logger: log,
      onRevoked: async () => {},
      // The agent's HTTP calls go straight into the app (same handlers as over a socket).
      fetch: (url, init) => Promise.resolve(t.app.request(url, init)),
    });
    return {
      t,
      agent,
      session,
      pool,
      dataDir,
      hostUuid: session.credentials.hostId.slice(5),
      adminToken: admin.token,
      log,
      close,
    };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
