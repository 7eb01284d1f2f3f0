import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { parseAccelSetting } from "@wrenn/images/qemu-boot";
import { TemplateStore } from "../snapshot/templates.ts";
import { findGuestImage } from "../storage/guest-image.ts";
import { DataLayout } from "../storage/layout.ts";
import { type NetworkProvider, UserModeNetworkProvider } from "../vmm/network-attachment.ts";
import { changedPages } from "../vmm/page-map.ts";
import { QemuMicrovmDriver } from "../vmm/qemu.ts";
import { forkRamDir } from "./fork-captures.ts";
import { SandboxManager, type SandboxManagerOptions } from "./manager.ts";

/** Where the guest image is built (`WRENN_DATA_DIR`, default /var/lib/wrenn). */
export const IMAGE_DATA_DIR = process.env.WRENN_DATA_DIR || "/var/lib/wrenn";

/** A manager on real QEMU microVMs with its own temporary data directory (test and benchmark helper). */
export interface TestAgent {
  dataDir: string;
  manager: SandboxManager;
  driver: QemuMicrovmDriver;
  templates: TemplateStore;
  /** Ends every VM and deletes the data directory. */
  dispose(): Promise<void>;
}

/**
 * Builds a manager for tests and benchmarks. Fails (never skips) when QEMU or the
 * guest image is missing: the image lookup throws with the build command.
 */
export async function createTestAgent(
  options: {
    dataDir?: string;
    network?: NetworkProvider;
    limits?: SandboxManagerOptions["limits"];
    /** Warm VMs per template (none unless given). */
    warmPool?: SandboxManagerOptions["warmPool"];
    forkBackgroundSave?: boolean;
  } = {},
): Promise<TestAgent> {
  const image = await findGuestImage(IMAGE_DATA_DIR);
  const dataDir =
    options.dataDir ?? (await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-agent-")));
  const logger = createLogger("host-agent-test", process.env.LOG_LEVEL ?? "warn");
  const layout = new DataLayout(dataDir);
  const driver = new QemuMicrovmDriver({
    probeKernel: image.kernel,
    accel: parseAccelSetting(process.env.WRENN_ACCEL),
  });
  const templates = new TemplateStore(layout, driver, logger);
  const manager = new SandboxManager({
    layout,
    vmm: driver,
    templates,
    network: options.network ?? new UserModeNetworkProvider(),
    guestImage: async () => image,
    logger,
    limits: options.limits,
    warmPool: options.warmPool,
    forkBackgroundSave: options.forkBackgroundSave,
  });
  await manager.recover();
  return {
    dataDir,
    manager,
    driver,
    templates,
    async dispose() {
      await manager.shutdown();
      if (!options.dataDir) {
        await rm(dataDir, { recursive: true, force: true });
        await rm(forkRamDir(layout), { recursive: true, force: true });
      }
    },
  };
}

/** Runs `script` with bash as root in sandbox `id`; answers its stdout trimmed, throwing on a non-zero exit. */
export async function runAsRoot(manager: SandboxManager, id: string, script: string): Promise<string> {
  const result = await manager
    .envd(id)
    .exec({ cmd: "/bin/bash", args: ["-c", script], user: "root" }, 60_000);
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr.toString()}`);
  return result.stdout.toString("utf8").trim();
}

/** A background shell loop writing an increasing count to /tmp/counter every 0.1 s; prints its pid. */
export const COUNTER_LOOP =
  "nohup bash -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done' >/dev/null 2>&1 & echo $!";

/**
 * Guest RAM pages sandbox `id`'s VMM holds as its own (copied from the RAM file it maps
 * private), and that file's path.
 */
export async function ownGuestPages(a: TestAgent, id: string): Promise<{ file: string; pages: number }> {
  const pid = a.manager.get(id).pid as number;
  for (const line of (await readFile(`/proc/${pid}/maps`, "utf8")).split("\n")) {
    const [range = "", , offset, , , ...path] = line.split(/\s+/);
    const [from = "0", to = "0"] = range.split("-");
    const start = Number.parseInt(from, 16);
    const bytes = Number.parseInt(to, 16) - start;
    // The guest's RAM: the one big mapping of a file in the agent's data directory.
    if (offset !== "00000000" || bytes < 64 * 1024 ** 2 || !path.join(" ").startsWith(a.dataDir)) continue;
    const bitmap = await changedPages(pid, { start, bytes });
    let pages = 0;
    for (const byte of bitmap) for (let b = byte; b; b &= b - 1) pages++;
    return { file: path.join(" "), pages };
  }
  throw new Error(`sandbox ${id} maps no RAM file`);
}
