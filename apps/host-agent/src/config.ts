import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { errors } from "@wrenn/common";
import { type AccelSetting, parseAccelSetting } from "@wrenn/images/qemu-boot";
import { parseWarmPoolSetting, type WarmPoolSizes } from "./sandbox/warm-pool.ts";

/** The warm pool when `WRENN_WARM_POOL` is not set: one VM of the base template. */
export const DEFAULT_WARM_POOL: WarmPoolSizes = { perTemplate: { minimal: 1 }, others: 0 };

/** The host agent's settings. */
export interface AgentConfig {
  /** Address the Connect service (and port proxy) listens on. */
  listenHost: string;
  listenPort: number;
  /** Root of sandboxes, templates and (unless told otherwise) guest images. */
  dataDir: string;
  /** Where `wrenn image build` put the guest image (defaults to dataDir). */
  imageDataDir: string;
  accel: AccelSetting;
  qemuBinary: string;
  /** TCG translation-cache size, MiB. */
  tcgTbSizeMb: number;
  /** `netns` (per-sandbox namespace + TAP, needs root) or `user` (QEMU user-mode, loopback forward). */
  network: "netns" | "user";
  templateVcpus: number;
  templateMemoryMb: number;
  defaultDiskSizeMb: number;
  /** TTL reaper interval. */
  reaperIntervalMs: number;
  /** Heartbeat interval towards the control plane (`WRENN_HEARTBEAT_INTERVAL_MS`, default 30 s). */
  heartbeatIntervalMs: number;
  /** A terminal nobody is attached to is killed after this long without input or output. */
  ptyIdleTimeoutMs: number;
  /**
   * Network slots this agent owns (`WRENN_NET_SLOTS=first-last`, default all):
   * only these are allocated and cleaned up at start-up, so two agents (or tests)
   * can share a machine.
   */
  netSlots: { first: number; last: number } | undefined;
  /** Sandbox networks kept set up ahead of demand (`WRENN_WARM_NETWORKS`, default 1; 0 = none). */
  warmNetworks: number;
  /**
   * Capture the base templates' snapshots right after start-up (`WRENN_PREPARE_TEMPLATES=1`)
   * instead of at the first create, which then takes a cold boot longer.
   */
  prepareTemplates: boolean;
  /**
   * Warm VMs kept per template (`WRENN_WARM_POOL`, default `minimal=1`; `0` = none): restored
   * ahead of demand so a create only hands one its identity.
   */
  warmPool: WarmPoolSizes;
  /**
   * A fork's source runs while its RAM is written where QEMU can do that
   * (`WRENN_FORK_BACKGROUND_SAVE=1`; default 0: the source stops for the save, the forks answer sooner).
   */
  forkBackgroundSave: boolean;
  /** Control plane link; `undefined` fields mean "not given" (see {@link loadConfig}). */
  controlPlane: {
    /** Base URL (`--control-plane` / `WRENN_CP_URL`); saved credentials carry their own. */
    url: string | undefined;
    /**
     * One-time registration token (`WRENN_REGISTRATION_TOKEN`, or the file named by
     * `--registration-token-file`, `-` for stdin): never a flag value, which `ps` shows to all.
     */
    registrationToken: string | undefined;
    /** `ip:port` the control plane reaches this agent at (`--address` / `WRENN_AGENT_ADDRESS`). */
    address: string | undefined;
  };
}

function intSetting(value: string | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw errors.invalidArgument(`${name} must be an integer ≥ ${min}`);
  return n;
}

/**
 * Reads settings from command-line flags, then environment variables, then
 * defaults: `--listen` / `WRENN_AGENT_LISTEN` (default `0.0.0.0:5007`),
 * `--data-dir` / `AGENT_FILES_ROOTDIR` / `WRENN_DATA_DIR` (default `/var/lib/wrenn`),
 * `--network` / `WRENN_NETWORK` (`netns` | `user`, default netns),
 * `WRENN_ACCEL` (`auto` | `kvm` | `tcg`), `WRENN_QEMU`, `WRENN_TCG_TB_MB`,
 * `WRENN_TEMPLATE_VCPUS`, `WRENN_TEMPLATE_MEMORY_MB`, `WRENN_DEFAULT_DISK_MB`,
 * `WRENN_WARM_POOL` (`minimal=2,python=1`, `*=n` for other templates, or one number; default `minimal=1`);
 * control plane link: `WRENN_REGISTRATION_TOKEN` / `--registration-token-file <file|->`,
 * `--address ip:port` / `WRENN_AGENT_ADDRESS`, `--control-plane <url>` / `WRENN_CP_URL`.
 */
export function loadConfig(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): AgentConfig {
  const { values } = parseFlags(argv);
  const listen = values.listen ?? env.WRENN_AGENT_LISTEN ?? "0.0.0.0:5007";
  const colon = listen.lastIndexOf(":");
  const listenHost = colon > 0 ? listen.slice(0, colon) : "0.0.0.0";
  const listenPort = intSetting(colon >= 0 ? listen.slice(colon + 1) : listen, 5007, "listen port", 0);
  const dataDir = values["data-dir"] || env.AGENT_FILES_ROOTDIR || env.WRENN_DATA_DIR || "/var/lib/wrenn";
  const network = values.network ?? env.WRENN_NETWORK ?? "netns";
  if (network !== "netns" && network !== "user")
    throw errors.invalidArgument("network must be netns or user");
  if (values.register !== undefined) {
    throw errors.invalidArgument(
      "--register <token> is gone (every local user could read the token in ps): pass it in WRENN_REGISTRATION_TOKEN or --registration-token-file <file|->",
    );
  }
  const tokenFile = values["registration-token-file"];
  const controlPlane = {
    url: values["control-plane"] || env.WRENN_CP_URL || undefined,
    registrationToken: (tokenFile ? readTokenFile(tokenFile) : env.WRENN_REGISTRATION_TOKEN) || undefined,
    address: values.address || env.WRENN_AGENT_ADDRESS || undefined,
  };
  if (controlPlane.registrationToken && (!controlPlane.url || !controlPlane.address)) {
    throw errors.invalidArgument("a registration token needs --control-plane <url> and --address <ip:port>");
  }
  if (controlPlane.address && !/^[^:\s]+:\d{1,5}$/.test(controlPlane.address)) {
    throw errors.invalidArgument("--address must look like 10.0.0.5:5007");
  }
  return {
    listenHost,
    listenPort,
    dataDir,
    imageDataDir: env.WRENN_DATA_DIR || dataDir,
    accel: parseAccelSetting(env.WRENN_ACCEL),
    qemuBinary: env.WRENN_QEMU || "qemu-system-x86_64",
    tcgTbSizeMb: intSetting(env.WRENN_TCG_TB_MB, 64, "WRENN_TCG_TB_MB"),
    network,
    templateVcpus: intSetting(env.WRENN_TEMPLATE_VCPUS, 1, "WRENN_TEMPLATE_VCPUS"),
    templateMemoryMb: intSetting(env.WRENN_TEMPLATE_MEMORY_MB, 512, "WRENN_TEMPLATE_MEMORY_MB"),
    defaultDiskSizeMb: intSetting(env.WRENN_DEFAULT_DISK_MB, 5120, "WRENN_DEFAULT_DISK_MB"),
    reaperIntervalMs: intSetting(env.WRENN_REAPER_INTERVAL_MS, 2000, "WRENN_REAPER_INTERVAL_MS"),
    heartbeatIntervalMs: intSetting(env.WRENN_HEARTBEAT_INTERVAL_MS, 30_000, "WRENN_HEARTBEAT_INTERVAL_MS"),
    ptyIdleTimeoutMs: intSetting(env.WRENN_PTY_IDLE_TIMEOUT_MS, 120_000, "WRENN_PTY_IDLE_TIMEOUT_MS"),
    netSlots: parseSlotRange(env.WRENN_NET_SLOTS),
    warmNetworks: intSetting(env.WRENN_WARM_NETWORKS, 1, "WRENN_WARM_NETWORKS", 0),
    prepareTemplates: intSetting(env.WRENN_PREPARE_TEMPLATES, 0, "WRENN_PREPARE_TEMPLATES", 0) > 0,
    warmPool: parseWarmPoolSetting(env.WRENN_WARM_POOL, DEFAULT_WARM_POOL),
    forkBackgroundSave: intSetting(env.WRENN_FORK_BACKGROUND_SAVE, 0, "WRENN_FORK_BACKGROUND_SAVE", 0) > 0,
    controlPlane,
  };
}

/** Command-line flags; an unknown or malformed flag is `invalid_argument` naming it. */
function parseFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        listen: { type: "string" },
        "data-dir": { type: "string" },
        network: { type: "string" },
        register: { type: "string" },
        "registration-token-file": { type: "string" },
        address: { type: "string" },
        "control-plane": { type: "string" },
      },
      strict: true,
    });
  } catch (err) {
    throw errors.invalidArgument(
      `${(err as Error).message} (flags: --listen, --data-dir, --network, --registration-token-file, --address, --control-plane)`,
    );
  }
}

/** The one-time token from `file` (`-`: stdin), trimmed; a missing file is the operator's mistake. */
function readTokenFile(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8").trim();
  } catch (err) {
    throw errors.invalidArgument(
      `cannot read the registration token file ${file}: ${(err as Error).message}`,
    );
  }
}

function parseSlotRange(value: string | undefined): { first: number; last: number } | undefined {
  if (!value) return undefined;
  const m = /^(\d+)-(\d+)$/.exec(value);
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last < first) throw errors.invalidArgument("WRENN_NET_SLOTS must look like 100-199");
  return { first, last };
}
