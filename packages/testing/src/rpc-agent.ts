import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger } from "@wrenn/common";
import { loadConfig, type RunningAgent, startAgent, sweepForkRamDirs } from "@wrenn/host-agent";
import { HostAgentService } from "@wrenn/proto";
import { guardVms, slotsSetting } from "./vms.ts";

/** A whole host agent (`startAgent`) on a loopback port with a Connect client over h2c. */
export interface RpcTestAgent {
  agent: RunningAgent;
  client: Client<typeof HostAgentService>;
  /** `http://127.0.0.1:<port>`: the Connect service and the `/proxy/{id}/{port}/` route. */
  baseUrl: string;
  dataDir: string;
  /**
   * Stops the agent, then kills any QEMU still running under {@link dataDir} and removes the
   * agent's networks (a test whose agent died must not leave VMs behind), and the directory.
   */
  close(): Promise<void>;
}

/** Options of {@link startRpcTestAgent}. */
export interface RpcTestAgentOptions {
  /** Names the data directory (`wrenn-<name>-…`). */
  name: string;
  /** `netns` (what production runs; the port proxy needs it) or `user` (QEMU user-mode). */
  network: "netns" | "user";
  /** Extra agent environment, e.g. `{ WRENN_PTY_IDLE_TIMEOUT_MS: "2000" }`. */
  env?: Record<string, string>;
}

/**
 * Starts an {@link RpcTestAgent} in a fresh temp data directory, with its own network slot
 * range. Fails (never skips) when QEMU, the guest image or (for netns) root is missing.
 */
export async function startRpcTestAgent(options: RpcTestAgentOptions): Promise<RpcTestAgent> {
  const dataDir = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), `wrenn-${options.name}-`));
  const guard = guardVms(dataDir);
  let agent: RunningAgent | undefined;
  const close = async () => {
    await agent?.close().catch(() => {});
    await guard.release();
    await rm(dataDir, { recursive: true, force: true });
    await sweepForkRamDirs();
  };
  try {
    const config = loadConfig(
      ["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--network", options.network],
      {
        WRENN_DATA_DIR: process.env.WRENN_DATA_DIR || "/var/lib/wrenn",
        WRENN_ACCEL: process.env.WRENN_ACCEL,
        WRENN_NET_SLOTS: slotsSetting(guard.slots),
        ...options.env,
      },
    );
    agent = await startAgent(config, createLogger("host-agent-test", "warn"));
    const baseUrl = `http://127.0.0.1:${agent.server.port}`;
    const client = createClient(HostAgentService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    return { agent, client, baseUrl, dataDir, close };
  } catch (err) {
    await close();
    throw err;
  }
}
