import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createLogger, errors, isWrennError, type Logger } from "@wrenn/common";
import { type AgentConfig, loadConfig } from "./config.ts";
import { MetricsRegistry } from "./metrics/index.ts";
import { cleanupStaleNetworks } from "./network/index.ts";
import { ConnTracker, SandboxProxy } from "./proxy/index.ts";
import {
  type ConnectOptions,
  connectToControlPlane,
  type HeartbeatReport,
  type HostSession,
  loadCredentials,
} from "./registration/index.ts";
import { type AgentServer, startAgentServer } from "./rpc/server.ts";
import { SandboxManager } from "./sandbox/manager.ts";
import { NamespaceNetworkProvider } from "./sandbox/netns-provider.ts";
import { TtlReaper } from "./sandbox/reaper.ts";
import { TemplateOperations } from "./sandbox/template-ops.ts";
import { TemplateStore } from "./snapshot/templates.ts";
import { allocatedBytes } from "./storage/disk.ts";
import { findGuestImage } from "./storage/guest-image.ts";
import { DataLayout } from "./storage/layout.ts";
import { type NetworkProvider, UserModeNetworkProvider } from "./vmm/network-attachment.ts";
import { QemuMicrovmDriver } from "./vmm/qemu.ts";

/** How long a pause waits for in-flight proxy connections before cutting them. */
const DRAIN_GRACE_MS = 2_000;
/** The last heartbeat at shutdown (reporting the paused sandboxes) waits this long at most. */
const FINAL_REPORT_TIMEOUT_MS = 5_000;

/** A running host agent. */
export interface RunningAgent {
  config: AgentConfig;
  manager: SandboxManager;
  server: AgentServer;
  /** Ids of sandboxes a previous run left behind and that are gone. */
  lostSandboxIds: string[];
  /** Ids of running sandboxes a previous run left behind that this run took over. */
  adoptedSandboxIds: string[];
  /** Registers `listener` for sandbox state changes the agent made on its own (auto-pauses). */
  onSandboxesChanged(listener: () => void): void;
  /**
   * Stops serving; with `pauseSandboxes` running sandboxes are paused first (so a restart keeps
   * them); with `leaveRunning` their VMs are left running for the next agent process to take over.
   * `beforeShutdown` runs once the pauses are done, while the agent still knows its sandboxes.
   */
  close(options?: {
    pauseSandboxes?: boolean;
    leaveRunning?: boolean;
    beforeShutdown?: () => Promise<void>;
  }): Promise<void>;
}

/** Where the agent keeps its host credentials (and mTLS certificate), mode 0600. */
function credentialsPathOf(config: AgentConfig): string {
  return join(config.dataDir, "host-credentials.json");
}

async function bootKernelForProbe(imageDataDir: string): Promise<string> {
  const image = await findGuestImage(imageDataDir).catch(() => undefined);
  if (image) return image.kernel;
  const boot = (await readdir("/boot").catch(() => [] as string[])).filter((f) => f.startsWith("vmlinuz-"));
  if (boot[0]) return join("/boot", boot[0]);
  throw errors.failedPrecondition("no guest kernel found for the KVM probe; build the guest image first");
}

/**
 * Wires the agent together and starts it: start-up recovery (surviving VMs taken
 * over with their network, other orphan VMs killed, lost sandboxes reported, stale
 * network state removed), the TTL reaper, the
 * metrics sampler, and the Connect service + port proxy.
 */
export async function startAgent(
  config: AgentConfig,
  logger: Logger = createLogger("host-agent"),
): Promise<RunningAgent> {
  const layout = new DataLayout(config.dataDir);
  const driver = new QemuMicrovmDriver({
    qemuBinary: config.qemuBinary,
    accel: config.accel,
    tcgTbSizeMb: config.tcgTbSizeMb,
    probeKernel: await bootKernelForProbe(config.imageDataDir),
  });
  const netns =
    config.network === "netns"
      ? new NamespaceNetworkProvider(config.netSlots, undefined, config.warmNetworks, logger)
      : undefined;
  const network: NetworkProvider = netns ?? new UserModeNetworkProvider();
  const metrics = new MetricsRegistry();
  const trackers = new Map<string, ConnTracker>();
  const trackerOf = (id: string) => {
    let t = trackers.get(id);
    if (!t) {
      t = new ConnTracker();
      trackers.set(id, t);
    }
    return t;
  };
  const templates = new TemplateStore(layout, driver, logger);
  const changeListeners = new Set<() => void>();
  let proxy: SandboxProxy | undefined;
  const manager: SandboxManager = new SandboxManager({
    layout,
    vmm: driver,
    templates,
    network,
    guestImage: () => findGuestImage(config.imageDataDir),
    logger,
    limits: {
      templateVcpus: config.templateVcpus,
      templateMemoryMb: config.templateMemoryMb,
      defaultDiskSizeMb: config.defaultDiskSizeMb,
    },
    hooks: {
      beforePause: async (id) => {
        const host = manager.get(id).guestHost;
        await trackerOf(id).drain(DRAIN_GRACE_MS);
        if (host) proxy?.dropIdleConnections(host);
      },
      onVmStarted: (id, pid, diskPath) => {
        trackerOf(id).reset();
        metrics.track(id, pid, diskPath);
      },
      onDestroyed: (id) => {
        metrics.untrack(id);
        trackers.delete(id);
      },
      onWarmPoolChanged: () => {
        for (const listener of changeListeners) listener();
      },
    },
    warmPool: config.warmPool,
    forkBackgroundSave: config.forkBackgroundSave,
  });
  proxy = new SandboxProxy({
    logger,
    resolve: (id) => {
      const view = manager.get(id);
      if (view.state !== "running") throw errors.failedPrecondition(`sandbox ${id} is ${view.state}`);
      if (!view.guestHost) throw errors.unavailable("the port proxy needs netns networking");
      manager.touch(id);
      return { host: view.guestHost, conns: trackerOf(id) };
    },
  });
  // Recovery first: sandboxes whose VM survived keep their network slot; everything else a
  // previous run left in this agent's slots (namespaces, links, rules) is removed after.
  const recovery = await manager.recover();
  if (netns) {
    const slots = config.netSlots;
    const report = await cleanupStaleNetworks({
      match: (idx) => (!slots || (idx >= slots.first && idx <= slots.last)) && !netns.holds(idx),
    });
    if (report.namespaces.length || report.links.length || report.rules) {
      logger.warn(report, "removed network state left by a previous run");
    }
  }
  const reaper = new TtlReaper(manager, logger, {
    intervalMs: config.reaperIntervalMs,
    onChange: () => {
      for (const listener of changeListeners) listener();
    },
  });
  reaper.start();
  metrics.start();
  // A registered host under mTLS must never answer plain HTTP, not even before it reconnects.
  const saved = await loadCredentials(credentialsPathOf(config)).catch(() => undefined);
  const server = await startAgentServer(
    {
      manager,
      templates: new TemplateOperations(manager, templates, driver, logger),
      metrics,
      logger,
      proxy,
      ptyIdleTimeoutMs: config.ptyIdleTimeoutMs,
      tls: saved?.tls,
    },
    { host: config.listenHost, port: config.listenPort },
  );
  logger.info(
    {
      listen: `${config.listenHost}:${server.port}`,
      dataDir: config.dataDir,
      network: network.kind,
      tls: server.tls,
      ...recovery,
    },
    "host agent started",
  );
  // In the background: the agent serves (and creates from the same capture) meanwhile.
  const prepared = config.prepareTemplates
    ? manager.prepareBaseTemplates().then(
        () => logger.info("base templates ready"),
        (err: unknown) => logger.warn({ err }, "preparing the base templates failed; the first create will"),
      )
    : Promise.resolve();
  return {
    config,
    manager,
    server,
    lostSandboxIds: recovery.lost,
    adoptedSandboxIds: recovery.adopted,
    onSandboxesChanged: (listener) => void changeListeners.add(listener),
    async close(options = {}) {
      // A capture VM is no sandbox: shutdown would not stop it, so let it finish first.
      await prepared;
      await reaper.stop();
      await server.close();
      metrics.stop();
      // Warm VMs belong to no sandbox: they go even when sandboxes stay running for the next agent.
      await manager.closeWarmPool();
      if (options.pauseSandboxes) await manager.pauseAll();
      await options.beforeShutdown?.();
      if (!options.leaveRunning) await manager.shutdown();
      proxy?.close();
      await manager.settled();
      // Networks set up ahead of demand belong to no VM: they go even when VMs stay running.
      await netns?.close();
    },
  };
}

/**
 * Registers with (given a token) or reconnects to (given saved credentials) the control
 * plane and keeps heartbeating; a host the control plane revoked pauses every sandbox.
 * Without either the agent runs standalone, serving its RPC port only.
 */
async function linkToControlPlane(agent: RunningAgent, logger: Logger): Promise<HostSession | undefined> {
  const { controlPlane, dataDir } = agent.config;
  const credentialsPath = credentialsPathOf(agent.config);
  if (!controlPlane.registrationToken && !existsSync(credentialsPath)) {
    logger.info(
      "no control plane configured (WRENN_REGISTRATION_TOKEN with --address and --control-plane registers): running standalone",
    );
    return undefined;
  }
  return connectAgent(agent, {
    credentialsPath,
    dataDir,
    controlPlaneUrl: controlPlane.url,
    registrationToken: controlPlane.registrationToken,
    address: controlPlane.address,
    logger,
    intervalMs: agent.config.heartbeatIntervalMs,
    onTlsMaterial: (tls) => agent.server.setTls(tls),
    onRevoked: async () => {
      logger.warn("the control plane revoked this host: pausing every sandbox");
      await agent.manager.pauseAll();
    },
  });
}

/**
 * {@link connectToControlPlane} for a running agent: every heartbeat carries the agent's
 * sandbox report, and a state change the agent makes on its own (an auto-pause) is reported
 * with a beat at once rather than at the next interval.
 */
export async function connectAgent(
  agent: RunningAgent,
  options: Omit<ConnectOptions, "report">,
): Promise<HostSession> {
  const baseImageBytes = await guestImageBytes(agent.config.imageDataDir);
  const session = await connectToControlPlane({
    ...options,
    report: () => heartbeatReport(agent, baseImageBytes),
  });
  agent.onSandboxesChanged(() => session.reportNow());
  return session;
}

/** What each heartbeat tells the control plane about this host's sandboxes (as ListSandboxes). */
function heartbeatReport(agent: RunningAgent, baseImageBytes: number | undefined): HeartbeatReport {
  const { sandboxes, autoPausedIds } = agent.manager.list();
  return {
    sandboxes: sandboxes.map((s) => ({ sandbox_id: s.id, state: s.state })),
    auto_paused_sandbox_ids: autoPausedIds,
    warm_pool: agent.manager.warmPool().map((w) => ({
      template_id: w.templateId,
      template_team_id: w.teamId,
      ready: w.ready,
      starting: w.starting,
      memory_mb: w.memoryMb,
    })),
    ...(baseImageBytes ? { base_image_bytes: baseImageBytes } : {}),
  };
}

/** Allocated bytes of the guest image new sandboxes start from; undefined without one. */
async function guestImageBytes(imageDataDir: string): Promise<number | undefined> {
  const image = await findGuestImage(imageDataDir).catch(() => undefined);
  if (!image) return undefined;
  const sizes = await Promise.all([image.kernel, image.initrd, image.rootfs].map((f) => allocatedBytes(f)));
  return sizes.reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  const logger = createLogger("host-agent");
  const config = loadConfig();
  // Used once, at registration: the VMs this process spawns must not inherit the token.
  delete process.env.WRENN_REGISTRATION_TOKEN;
  const agent = await startAgent(config, logger);
  const session = await linkToControlPlane(agent, logger).catch(async (err) => {
    await agent.close();
    throw err;
  });
  let stopping = false;
  const stop = (signal: string, leaveRunning = false) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { signal },
      leaveRunning
        ? "stopping: leaving sandboxes running for the next agent"
        : "stopping: pausing running sandboxes",
    );
    Promise.resolve(session?.stop())
      .then(() =>
        agent.close(
          leaveRunning
            ? { leaveRunning }
            : {
                pauseSandboxes: true,
                // The control plane learns of the pauses now, not after the next start-up.
                beforeShutdown: async () => {
                  if (session) await finalReport(session);
                },
              },
        ),
      )
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // An upgrade: the old process exits, its VMs keep running and the new process takes them over.
  process.on("SIGUSR2", () => stop("SIGUSR2", true));
}

/** One last heartbeat with the sandbox report; a control plane that is down does not hold up the exit. */
async function finalReport(session: HostSession): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    session.beat(),
    new Promise((resolve) => {
      timer = setTimeout(resolve, FINAL_REPORT_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err) => {
    // A user's mistake (bad flag, missing credentials) is one clear line, not a stack trace.
    if (isWrennError(err) && err.code !== "internal") {
      console.error(`host-agent: ${err.message}`);
      process.exit(2);
    }
    createLogger("host-agent").fatal({ err }, "host agent failed to start");
    process.exit(1);
  });
}
