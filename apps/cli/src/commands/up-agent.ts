import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Component, DEFAULT_ADMIN_EMAIL, SessionTokens } from "@wrenn/control-plane";
import { type Database, freePort, getLoginTeam, getUserByEmail } from "@wrenn/db";
import { loadCredentials } from "@wrenn/host-agent";
import { buildGuestImage, DEFAULT_DATA_DIR, resolveGuestImage } from "@wrenn/images";
import { agentNodeArgs } from "../lib/agent-entry.ts";

/** Pausing every sandbox on Ctrl-C takes about a second each on this class of machine. */
const AGENT_STOP_TIMEOUT_MS = 120_000;
const AGENT_START_TIMEOUT_MS = 180_000;
/** More crashes than this within {@link CRASH_WINDOW_MS} and `up` stops restarting the agent. */
const MAX_RESTARTS = 3;
const CRASH_WINDOW_MS = 60_000;

/**
 * The first start of `wrenn up` as one numbered sequence: `scripts/wrenn` prints phases 1-3
 * (Debian packages, npm dependencies, the bundles) before `up` itself runs 4-6.
 */
export const UP_PHASES = { services: 4, guestImage: 5, agent: 6, total: 6 } as const;

/** `wrenn up: [n/6] what`: one line of the start-up sequence. */
export function phaseLine(n: number, what: string): string {
  return `[${n}/${UP_PHASES.total}] ${what}`;
}

/** Why `wrenn up` cannot run a host agent here, or undefined when it can. */
export function agentUnavailableReason(
  qemuBinary = process.env.WRENN_QEMU || "qemu-system-x86_64",
): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root (microVM networking needs it)";
  if (spawnSync(qemuBinary, ["--version"], { stdio: "ignore" }).status !== 0) {
    return `${qemuBinary} is not installed (as root: scripts/install-system-deps --platform, or apt-get install qemu-system-x86)`;
  }
  return undefined;
}

/** What the local agent component needs from the rest of `wrenn up`. */
export interface LocalAgentOptions {
  /** `wrenn up`'s data dir; the agent keeps its state in `<dataDir>/agent`. */
  dataDir: string;
  /** HS256 secret of the control plane's sessions (to act as the bootstrap admin). */
  jwtSecret: string;
  /** The started control plane (available once the components before this one started). */
  controlPlane: () => { url: string; db: Database } | undefined;
  say: (line: string) => void;
}

/** State of the local agent kept between runs (`<dataDir>/agent/up-agent.json`). */
interface SavedAgent {
  /** Port the agent listens on: the host row was registered with this address. */
  port: number;
}

/**
 * A host agent as one more supervised component of `wrenn up`. It registers through the
 * same one-time-token flow as any other host (a token from `POST /v1/hosts`, created as the
 * bootstrap admin), then reuses the saved credentials on later runs. It runs in its own
 * process group with its output in `<dataDir>/agent/agent.log`; stopping it sends SIGTERM,
 * which pauses its running sandboxes (they resume later from disk; the control plane marks
 * them `paused` when it next reconciles the host). If the agent dies on its own it is
 * restarted (VMs that kept running are taken over by the new process); after repeated crashes
 * `up` says so and keeps the rest running.
 */
export function localAgentComponent(o: LocalAgentOptions): Component & { banner(): string | undefined } {
  const agentDir = join(o.dataDir, "agent");
  const logPath = join(agentDir, "agent.log");
  let child: ChildProcess | undefined;
  let stopping = false;
  let port = 0;
  let hostId = "";
  let launchArgs: string[] = [];
  let env: NodeJS.ProcessEnv = {};
  const crashes: number[] = [];

  const launch = async (args: string[], ready: RegExp, extraEnv: NodeJS.ProcessEnv = {}) => {
    await mkdir(agentDir, { recursive: true, mode: 0o700 });
    const offset = await stat(logPath).then(
      (s) => s.size,
      () => 0,
    );
    const fd = openSync(logPath, "a", 0o600);
    let proc: ChildProcess;
    try {
      // Own process group: Ctrl-C in the terminal reaches `up` only, which stops the agent in order.
      proc = spawn(process.execPath, [...agentNodeArgs(), ...launchArgs, ...args], {
        env: { ...env, ...extraEnv },
        stdio: ["ignore", fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    child = proc;
    let isReady = false;
    proc.once("exit", (code, signal) => {
      if (isReady) void onExit(proc, code, signal);
    });
    const deadline = Date.now() + AGENT_START_TIMEOUT_MS;
    for (;;) {
      const text = (await readFile(logPath, "utf8").catch(() => "")).slice(offset);
      if (ready.test(text)) {
        isReady = true;
        return;
      }
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        const last = lastLogLine(text);
        if (proc.exitCode === null) proc.kill("SIGKILL");
        throw new Error(`the host agent did not start${last ? `: ${last}` : ""} (log: ${logPath})`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  // The supervisor signals only components that finished starting; a Ctrl-C while the agent
  // starts (or restarts) must not leave it behind either. SIGTERM lets it pause its sandboxes.
  process.once("exit", () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });

  const onExit = async (proc: ChildProcess, code: number | null, signal: string | null) => {
    if (stopping || proc !== child) return;
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && (crashes[0] ?? 0) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length > MAX_RESTARTS) {
      o.say(`host agent keeps exiting (last: ${signal ?? code}); giving up on it (log: ${logPath})`);
      return;
    }
    o.say(
      `host agent exited (${signal ?? `code ${code}`}); restarting it — running sandboxes are taken over`,
    );
    try {
      await launch([], /host agent started/);
      o.say("host agent back online");
    } catch (err) {
      o.say(`${(err as Error).message}; giving up on the host agent`);
    }
  };

  const startAgent = async () => {
    const cp = o.controlPlane();
    if (!cp) throw new Error("the control plane is not running");
    await mkdir(agentDir, { recursive: true, mode: 0o700 });
    o.say(phaseLine(UP_PHASES.guestImage, "guest image (built once, then cached)"));
    const imageDir = await guestImageDir(o.dataDir, o.say);
    o.say(phaseLine(UP_PHASES.agent, "host agent"));
    const saved = await loadSavedAgent(agentDir);
    port = saved?.port ?? (await freePort());
    await writeFile(join(agentDir, "up-agent.json"), `${JSON.stringify({ port } satisfies SavedAgent)}\n`);
    const credentialsPath = join(agentDir, "host-credentials.json");
    const creds = await loadCredentials(credentialsPath).catch(() => undefined);
    launchArgs = ["--listen", `127.0.0.1:${port}`, "--data-dir", agentDir];
    env = {
      // Slots of its own: at start-up an agent removes the networks of every slot in its range
      // that it does not hold, and test deployments on this machine use slots from 2048 on.
      WRENN_NET_SLOTS: "1-1023",
      // The first `sandbox create` of a new user should not wait for the template's cold boot.
      WRENN_PREPARE_TEMPLATES: "1",
      ...process.env,
      WRENN_DATA_DIR: imageDir,
      LOG_LEVEL: process.env.AGENT_LOG_LEVEL || "info",
    };
    const token = await adminToken(cp.db, o.jwtSecret);
    // Saved credentials are reused unless their host was deleted meanwhile (then they are refused).
    const known = creds ? await hostExists(cp.url, token, creds.hostId) : false;
    const launchedAt = new Date();
    if (creds && known && creds.controlPlaneUrl === cp.url && saved?.port === port) {
      hostId = creds.hostId;
      await launch([], /host agent started/);
    } else {
      // First run (or the control plane moved, or the host was deleted): a new host, registered like any other.
      const created = await api(cp.url, "POST", "/v1/hosts", token, { type: "regular" });
      hostId = String((created.host as { id: string }).id);
      // The token goes in the environment: a command line is visible to every local user in `ps`.
      await launch(
        ["--address", `127.0.0.1:${port}`, "--control-plane", cp.url],
        /registered with the control plane/,
        { WRENN_REGISTRATION_TOKEN: String(created.registration_token) },
      );
    }
    await waitOnline(cp.url, token, hostId, launchedAt);
  };

  return {
    name: "host agent",
    stopTimeoutMs: AGENT_STOP_TIMEOUT_MS,
    async start() {
      try {
        await startAgent();
      } catch (err) {
        throw new Error(`${(err as Error).message} (to start without a host agent: --no-agent)`);
      }
    },
    async stop() {
      stopping = true;
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => {
        o.say("host agent did not finish pausing its sandboxes; killing it and its VMs");
        proc.kill("SIGKILL");
      }, AGENT_STOP_TIMEOUT_MS - 5_000);
      await exited;
      clearTimeout(timer);
      // Whatever VM is still running (the agent was killed mid-pause) would otherwise outlive `up`.
      await killVmsUnder(agentDir);
    },
    pid: () => child?.pid,
    banner: () => (hostId ? `host agent ${hostId} online at 127.0.0.1:${port} (log: ${logPath})` : undefined),
  };
}

/**
 * Where the guest image comes from: `<dataDir>/images` when it holds one, else the machine's
 * default image cache (`/var/lib/wrenn/images`) when that does; built there if neither has one
 * (`wrenn image build`, a few seconds when nothing changed).
 */
async function guestImageDir(dataDir: string, say: (line: string) => void): Promise<string> {
  const has = (dir: string) =>
    resolveGuestImage(dir).then(
      () => true,
      () => false,
    );
  let dir = dataDir;
  if (!(await has(dataDir)) && dataDir !== DEFAULT_DATA_DIR && (await has(DEFAULT_DATA_DIR)))
    dir = DEFAULT_DATA_DIR;
  const started = Date.now();
  const image = await buildGuestImage({
    dataDir: dir,
    onProgress: (e) => {
      if (e.status === "start") say(`guest image: ${e.step}: ${e.message}`);
    },
  });
  say(
    `guest image ${image.hash} ${image.cached ? "up to date" : `built in ${Math.round((Date.now() - started) / 1000)}s`} (${image.dir})`,
  );
  return dir;
}

async function loadSavedAgent(agentDir: string): Promise<SavedAgent | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(agentDir, "up-agent.json"), "utf8")) as { port?: unknown };
    const port = Number(parsed.port);
    return Number.isInteger(port) && port > 0 && port < 65_536 ? { port } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A short-lived session token of the bootstrap admin (`admin@wrenn.local`), signed with the
 * control plane's own secret: `up` acts as that admin to create its host, through the API.
 */
async function adminToken(db: Database, jwtSecret: string): Promise<string> {
  const user = await getUserByEmail(db, DEFAULT_ADMIN_EMAIL);
  const team = user ? await getLoginTeam(db, user.id) : undefined;
  if (!user?.isAdmin || !team) {
    throw new Error(
      `no platform admin ${DEFAULT_ADMIN_EMAIL} to register the agent with (use wrenn host register)`,
    );
  }
  return new SessionTokens(jwtSecret, 600).sign({
    sub: user.id,
    team: team.team.id,
    role: team.role,
    is_admin: true,
    name: user.name,
    email: user.email,
  });
}

async function api(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const parsed = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${String(parsed.message ?? "")}`);
  return parsed;
}

/** True when the control plane still has host `hostWireId`. */
async function hostExists(base: string, token: string, hostWireId: string): Promise<boolean> {
  const res = await fetch(`${base}/v1/hosts/${encodeURIComponent(hostWireId)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.ok;
}

/**
 * Waits until the control plane has a heartbeat of the host from this launch (not merely an
 * `online` row left by the previous run): that beat carried the agent's sandbox report, applied
 * before it was recorded, so once this returns the API shows the sandboxes as the agent has them.
 */
async function waitOnline(base: string, token: string, hostWireId: string, since: Date): Promise<void> {
  const deadline = Date.now() + 30_000;
  let status = "";
  while (Date.now() < deadline) {
    const host = await api(base, "GET", `/v1/hosts/${hostWireId}`, token);
    status = String(host.status);
    const beat = typeof host.last_heartbeat_at === "string" ? Date.parse(host.last_heartbeat_at) : 0;
    // Same machine, same clock: the control plane stamps the beat with its own Date.
    if (status === "online" && beat >= since.getTime()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`host ${hostWireId} is ${status} without a heartbeat 30 s after the agent started`);
}

/** SIGKILLs every VMM process whose command line points into `dir` (a killed agent's VMs). */
export async function killVmsUnder(dir: string): Promise<number[]> {
  const killed: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const args = cmdline.split("\0");
    if (args.some((a) => a.startsWith("wrenn-")) && args.some((a) => a.includes(`${dir}/`))) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        // already gone
      }
    }
  }
  return killed;
}

/** The message of the last JSON log line (or the last line) of an agent log excerpt. */
function lastLogLine(text: string): string {
  const line = text.trim().split("\n").pop() ?? "";
  try {
    const parsed = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    return [parsed.msg, parsed.err?.message].filter(Boolean).join(": ");
  } catch {
    return line.slice(0, 300);
  }
}
