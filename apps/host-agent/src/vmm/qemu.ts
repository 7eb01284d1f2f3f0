import { type ChildProcess, execFile, type StdioOptions, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { errors } from "@wrenn/common";
import {
  type Accel,
  type AccelSetting,
  accelOption,
  cpuModel,
  HEADLESS_ARGS,
  resolveAccel,
  tcgKernelArgs,
} from "@wrenn/images/qemu-boot";
import { GUEST_MAC } from "../network/index.ts";
import { QmpClient } from "./qmp.ts";
import { QMP_SOCKET_FILE, qmpSocketOfProcess, qmpSocketPath } from "./qmp-socket.ts";
import { writeRamDiffState } from "./ram-diff.ts";
import { restoreKernel } from "./restore-kernel.ts";
import type { RestoreSource, VmInstance, Vmm, VmmFingerprint, VmSpec } from "./types.ts";

const execFileAsync = promisify(execFile);

/** The guest NIC's MAC (from the network module): identical for every VM, so snapshots restore unchanged. */
export { GUEST_MAC };

/** Files the driver keeps in a VM's run directory. */
export const RUN_FILES = {
  qmp: QMP_SOCKET_FILE,
  pid: "vmm.pid",
  console: "console.log",
  vmmLog: "vmm.log",
} as const;

/** Options of the QEMU microvm driver. */
export interface QemuDriverOptions {
  qemuBinary?: string;
  accel?: AccelSetting;
  /** TCG translation-cache size in MiB: a density knob (smaller = less RSS, more retranslation). */
  tcgTbSizeMb?: number;
  /** Kernel used for the KVM probe. */
  probeKernel: string;
}

/** The descriptor a restoring QEMU inherits its incoming state file on (after stdin, stdout, stderr). */
const INCOMING_STATE_FD = 3;
/** The guest RAM's memory backend id, which is also its RAM block's name in migration streams. */
const GUEST_RAM_BLOCK = "mem";
/** `fd:<n>` on a regular file: QEMU reads the state with no helper process or pipe. */
const INCOMING_STATE_URI = `fd:${INCOMING_STATE_FD}`;

/** Quotes a path for the `/bin/sh -c` QEMU runs `exec:` migration URIs with. */
function shellQuote(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * The QEMU `microvm` driver. QEMU runs as a normal child process (never
 * `-daemonize`, which breaks `exec:` migration) in its own process group, is
 * controlled over QMP, and records its pid in the run directory so a restarted
 * agent can find and end it.
 */
export class QemuMicrovmDriver implements Vmm {
  readonly driver = "qemu-microvm";
  private readonly qemuBinary: string;
  private readonly accelSetting: AccelSetting;
  private readonly tbSizeMb: number;
  private accel: Promise<Accel> | undefined;
  private version: Promise<string> | undefined;

  constructor(private readonly options: QemuDriverOptions) {
    this.qemuBinary = options.qemuBinary ?? "qemu-system-x86_64";
    this.accelSetting = options.accel ?? "auto";
    this.tbSizeMb = options.tcgTbSizeMb ?? 64;
  }

  /** The accelerator in use (probed once). */
  resolveAccel(): Promise<Accel> {
    this.accel ??= resolveAccel(this.accelSetting, this.qemuBinary, this.options.probeKernel);
    return this.accel;
  }

  async fingerprint(): Promise<VmmFingerprint> {
    this.version ??= execFileAsync(this.qemuBinary, ["--version"]).then(
      (r) => r.stdout.split("\n")[0]?.trim() ?? "unknown",
    );
    const accel = await this.resolveAccel();
    return {
      driver: this.driver,
      version: await this.version,
      accel,
      machine: machineShape(accel, this.tbSizeMb),
    };
  }

  async boot(spec: VmSpec): Promise<VmInstance> {
    const vm = await this.launch(spec, false);
    return vm;
  }

  async restore(spec: VmSpec, source: RestoreSource): Promise<VmInstance> {
    if (source.kind === "template" && spec.memory.kind !== "file-private") {
      throw errors.internal("template restore needs a file-private memory backend");
    }
    if (source.kind === "full" && spec.memory.kind === "file-shared") {
      throw errors.internal("full-snapshot restore needs anonymous or file-private memory");
    }
    const vm = await this.launch(spec, true, source.stateFile);
    try {
      if (source.kind === "full") await source.written;
      await setIgnoreShared(vm.qmp, source.kind === "template");
      await vm.qmp.execute("migrate-incoming", { uri: INCOMING_STATE_URI });
      await waitForMigration(vm, 60_000);
      await vm.qmp.execute("cont");
      return vm;
    } catch (err) {
      await vm.kill();
      throw withConsole(err, spec);
    }
  }

  async captureTemplate(instance: VmInstance, stateFile: string): Promise<void> {
    const vm = asQemu(instance);
    await vm.qmp.execute("stop");
    await setIgnoreShared(vm.qmp, true);
    await migrateToFile(vm, stateFile);
    await vm.kill();
  }

  async saveFull(instance: VmInstance, stateFile: string, whileSaving?: () => Promise<void>): Promise<void> {
    const vm = asQemu(instance);
    await vm.qmp.execute("stop");
    const beside = whileSaving?.();
    try {
      await setIgnoreShared(vm.qmp, false);
      await migrateToFile(vm, stateFile);
    } catch (err) {
      await beside?.catch(() => {});
      // The guest must keep running when the save failed: pause falls back to other handling.
      await vm.qmp.execute("cont").catch(() => {});
      throw err;
    }
    // `whileSaving` reads the stopped guest's process: it finishes before the process ends.
    await beside?.catch(() => {});
    await vm.kill();
  }

  async checkpoint(
    instance: VmInstance,
    stateFile: string,
    whileStopped: () => Promise<void>,
    whileSaving?: () => Promise<void>,
    options: { background?: boolean } = {},
  ): Promise<{ stoppedMs: number; background: boolean }> {
    const vm = asQemu(instance);
    const stopped = performance.now();
    await vm.qmp.execute("stop");
    const beside = whileSaving?.();
    let resumed: number | undefined;
    try {
      await setIgnoreShared(vm.qmp, false);
      await whileStopped();
      // A background snapshot (QEMU 7.2 resumes the guest itself) saves the device state now,
      // write-protects guest RAM and lets the guest run while the RAM goes out (each page
      // written first as it was now): the guest is stopped for the disk copy and the device
      // state only, and the save takes longer (an un-protect per page, the guest's CPU use).
      // QEMU refuses it for RAM the kernel cannot write-protect (a private mapping of a file on
      // a disk file system, as clones map their template's); then the guest stays stopped.
      if (options.background && (await setBackgroundSnapshot(vm.qmp, true))) {
        try {
          await rm(stateFile, { force: true });
          await vm.qmp.execute("migrate-set-parameters", { "max-bandwidth": 16 * 1024 ** 3 });
          await vm.qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(stateFile)}` });
          resumed = await waitUntilRunning(vm, stopped);
          await waitForMigration(vm, 120_000);
        } finally {
          await setBackgroundSnapshot(vm.qmp, false);
        }
      } else {
        await migrateToFile(vm, stateFile);
      }
    } finally {
      // Stopped for the whole save: the guest runs again only once `whileSaving` is done.
      await beside?.catch(() => {});
      // `cont` after a completed migration re-activates the block devices QEMU released for it
      // (a background snapshot releases none and has resumed the guest itself: `cont` is a no-op).
      if (resumed === undefined || !(await isRunning(vm))) await vm.qmp.execute("cont");
    }
    return {
      stoppedMs: Math.round((resumed ?? performance.now()) - stopped),
      background: resumed !== undefined,
    };
  }

  reduceFullState(
    fullStateFile: string,
    changed: Uint8Array,
    out: string,
    signal?: AbortSignal,
  ): Promise<{ keptPages: number; droppedPages: number; bytes: number }> {
    return writeRamDiffState({ fullState: fullStateFile, blockId: GUEST_RAM_BLOCK, changed, out, signal });
  }

  async convertFullToTemplate(
    spec: VmSpec,
    fullStateFile: string,
    ramFile: string,
    stateFile: string,
  ): Promise<void> {
    // The full state is read through an inherited descriptor, as restores read theirs.
    const vm = await this.launch(
      { ...spec, memory: { kind: "file-shared", path: ramFile } },
      true,
      fullStateFile,
    );
    try {
      await setIgnoreShared(vm.qmp, false);
      await vm.qmp.execute("migrate-incoming", { uri: INCOMING_STATE_URI });
      await waitForMigration(vm, 60_000);
      // The guest never runs here: the loaded RAM now sits in the shared file, device state goes out.
      await setIgnoreShared(vm.qmp, true);
      await migrateToFile(vm, stateFile);
    } finally {
      await vm.kill();
    }
  }

  /**
   * Starts QEMU. With `stateFile` (a restore) that file is open in QEMU as fd
   * {@link INCOMING_STATE_FD}, so `migrate-incoming` reads it directly instead of
   * through a `sh -c cat` child and a pipe (two execs and two copies of the state).
   */
  private async launch(spec: VmSpec, incoming: boolean, stateFile?: string): Promise<QemuVm> {
    const accel = await this.resolveAccel();
    const qmpPath = qmpSocketPath(spec.runDir);
    await rm(qmpPath, { force: true });
    // A restore never runs the kernel: a stub of it spares QEMU a ~14 MB copy per VM.
    const kernel = incoming ? await restoreKernel(spec.kernel) : spec.kernel;
    const args = buildQemuArgs({ ...spec, kernel }, accel, this.tbSizeMb, incoming);
    const { command, args: wrapped } = spec.network.wrapCommand(this.qemuBinary, args);
    const logFd = openSync(join(spec.runDir, RUN_FILES.vmmLog), "a");
    let stateFd: number | undefined;
    let child: ChildProcess;
    try {
      stateFd = stateFile === undefined ? undefined : openSync(stateFile, "r");
      const stdio: StdioOptions =
        stateFd === undefined ? ["ignore", logFd, logFd] : ["ignore", logFd, logFd, stateFd];
      child = spawn(command, wrapped, { stdio, detached: true });
    } finally {
      closeSync(logFd);
      if (stateFd !== undefined) closeSync(stateFd);
    }
    child.unref();
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code) => resolve(code));
      child.once("error", () => resolve(-1));
    });
    const pid = child.pid;
    if (pid === undefined) {
      // The log tail names host paths: it goes to the agent's log (cause), not to the client.
      const log = await tail(join(spec.runDir, RUN_FILES.vmmLog));
      throw errors.internal("could not start the VMM", new Error(`could not start ${command}: ${log}`));
    }
    await writeFile(join(spec.runDir, RUN_FILES.pid), `${pid}\n`);
    let qmp: QmpClient;
    try {
      qmp = await Promise.race([
        QmpClient.connect(qmpPath, 15_000),
        exited.then((code) => {
          throw new Error(`QEMU exited with ${code}`);
        }),
      ]);
    } catch (err) {
      child.kill("SIGKILL");
      await exited;
      const log = await tail(join(spec.runDir, RUN_FILES.vmmLog));
      throw errors.internal(
        "QEMU failed to start",
        new Error(`QEMU failed to start: ${log}`, { cause: err }),
      );
    }
    return new QemuVm(spec.id, pid, () => child.kill("SIGKILL"), exited, qmp, spec.runDir);
  }

  /**
   * Takes over a VM a previous agent run started (the process survives the agent: it runs in
   * its own session with no parent-death signal). The pid must still be the same QEMU —
   * its command line names `wrenn-<id>` and its start time matches `startTime` — and answer
   * QMP with a running guest (a guest stopped mid-pause is continued). Returns undefined when
   * the VM cannot be adopted; the caller then cleans it up.
   */
  async adopt(id: string, runDir: string, pid: number, startTime: string): Promise<VmInstance | undefined> {
    if (!(await isSameProcess(pid, id, startTime))) return undefined;
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(await qmpSocketOfProcess(pid, runDir), 5_000);
    } catch {
      return undefined;
    }
    try {
      const status = await qmp.execute("query-status", {}, 5_000);
      if (status.status !== "running") await qmp.execute("cont", {}, 5_000);
    } catch {
      qmp.close();
      return undefined;
    }
    // Not our child: its end shows as the QMP socket closing, confirmed by /proc.
    const exited = new Promise<number | null>((resolve) => {
      const gone = async () => {
        while (await isSameProcess(pid, id, startTime)) await new Promise((r) => setTimeout(r, 100));
        resolve(null);
      };
      if (qmp.isClosed) void gone();
      else qmp.once("close", () => void gone());
    });
    const kill = () => {
      void isSameProcess(pid, id, startTime).then((same) => {
        if (same) process.kill(pid, "SIGKILL");
      });
    };
    return new QemuVm(id, pid, kill, exited, qmp, runDir);
  }
}

/** Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot): with the pid it names one process. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // The command name (field 2) may hold spaces; fields after it follow the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (!stat || rest[0] === "Z") return undefined;
  return rest[19];
}

async function isSameProcess(pid: number, id: string, startTime: string): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  if ((await processStartTime(pid)) !== startTime) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.split("\0").includes(`wrenn-${id}`);
}

/** Machine-shaping options shared by capture and restore; changing any of them invalidates snapshots. */
function machineShape(accel: Accel, tbSizeMb: number): string {
  const tcg = accel === "tcg" ? `,tb-size=${tbSizeMb}` : "";
  return `microvm,rtc=on;accel=${accel}${tcg};cpu=${cpuModel(accel)};blk=virtio-blk-device;net=virtio-net-device,mac=${GUEST_MAC}`;
}

/** Builds the QEMU command line for `spec`. Exported for tests and diagnostics. */
export function buildQemuArgs(spec: VmSpec, accel: Accel, tbSizeMb: number, incoming: boolean): string[] {
  const mem = spec.memory;
  const memoryObject =
    mem.kind === "anonymous"
      ? `memory-backend-ram,id=${GUEST_RAM_BLOCK},size=${spec.memoryMb}M`
      : `memory-backend-file,id=${GUEST_RAM_BLOCK},size=${spec.memoryMb}M,mem-path=${mem.path},share=${mem.kind === "file-shared" ? "on" : "off"}`;
  const args = [
    "-name",
    `wrenn-${spec.id}`,
    "-M",
    `microvm,rtc=on,memory-backend=${GUEST_RAM_BLOCK}`,
    "-accel",
    accelOption(accel, tbSizeMb),
    "-cpu",
    cpuModel(accel),
    "-smp",
    String(spec.vcpus),
    "-m",
    `${spec.memoryMb}M`,
    "-object",
    memoryObject,
    ...HEADLESS_ARGS,
    "-chardev",
    `file,id=con,path=${join(spec.runDir, RUN_FILES.console)},append=on`,
    "-serial",
    "chardev:con",
    "-kernel",
    spec.kernel,
    "-initrd",
    spec.initrd,
    "-append",
    `console=ttyS0 root=/dev/vda rw panic=-1 ${accel === "tcg" ? tcgKernelArgs().join(" ") : ""} ${spec.kernelArgs}`
      .replace(/\s+/g, " ")
      .trim(),
    "-drive",
    `id=root,file=${spec.rootDisk.path},format=${spec.rootDisk.format},if=none,cache=writeback,discard=unmap,auto-read-only=off`,
    "-device",
    "virtio-blk-device,drive=root",
    "-netdev",
    spec.network.qemuNetdev(),
    "-device",
    `virtio-net-device,netdev=n0,mac=${GUEST_MAC}`,
    "-qmp",
    `unix:${qmpSocketPath(spec.runDir)},server=on,wait=off`,
  ];
  if (incoming) args.push("-incoming", "defer");
  return args;
}

/** A QEMU process driven over QMP. */
class QemuVm implements VmInstance {
  private killing: Promise<void> | undefined;
  private running = true;

  constructor(
    readonly id: string,
    readonly pid: number,
    private readonly forceKill: () => void,
    readonly exited: Promise<number | null>,
    readonly qmp: QmpClient,
    private readonly runDir: string,
  ) {
    void exited.then(() => {
      this.running = false;
      qmp.close();
    });
  }

  get alive(): boolean {
    return this.running;
  }

  kill(): Promise<void> {
    this.killing ??= (async () => {
      if (this.running) {
        await this.qmp.execute("quit", {}, 2_000).catch(() => {});
        const timer = setTimeout(() => this.forceKill(), 2_000);
        await this.exited;
        clearTimeout(timer);
      }
      this.qmp.close();
      await rm(join(this.runDir, RUN_FILES.pid), { force: true });
      await rm(qmpSocketPath(this.runDir), { force: true });
    })();
    return this.killing;
  }

  async resizeRootDisk(bytes: number): Promise<void> {
    await this.qmp.execute("block_resize", { device: "root", size: bytes });
  }
}

function asQemu(vm: VmInstance): QemuVm {
  if (!(vm instanceof QemuVm)) throw errors.internal("not a QEMU VM");
  return vm;
}

async function setIgnoreShared(qmp: QmpClient, on: boolean): Promise<void> {
  await qmp.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "x-ignore-shared", state: on }],
  });
}

/** Turns QEMU's `background-snapshot` capability on or off; false when QEMU refuses it. */
async function setBackgroundSnapshot(qmp: QmpClient, on: boolean): Promise<boolean> {
  try {
    await qmp.execute("migrate-set-capabilities", {
      capabilities: [{ capability: "background-snapshot", state: on }],
    });
    return true;
  } catch {
    return false;
  }
}

async function isRunning(vm: QemuVm): Promise<boolean> {
  const status = await vm.qmp.execute("query-status");
  return status.running === true;
}

/**
 * When a background snapshot lets the guest run again (QEMU resumes it once the device state is
 * saved and RAM write-protected), as `performance.now()`; the migration's end at the latest.
 */
async function waitUntilRunning(vm: QemuVm, since: number): Promise<number> {
  for (let delay = 1; ; delay = Math.min(delay * 2, 10)) {
    if (await isRunning(vm)) return performance.now();
    const info = await vm.qmp.execute("query-migrate");
    if (info.status !== "setup" && info.status !== "active") return performance.now();
    if (performance.now() - since > 120_000) return performance.now();
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function migrateToFile(vm: QemuVm, file: string): Promise<void> {
  await rm(file, { force: true });
  // The default bandwidth cap (128 MiB/s) would dominate pause time; the target is a local file.
  await vm.qmp.execute("migrate-set-parameters", { "max-bandwidth": 16 * 1024 ** 3 });
  await vm.qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(file)}` });
  await waitForMigration(vm, 120_000);
}

/** Polls `query-migrate` until `completed`; a failure or timeout is an error, never a hang. */
async function waitForMigration(vm: QemuVm, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (Date.now() < deadline) {
    if (!vm.alive) throw errors.internal("QEMU exited during the snapshot");
    const info = await vm.qmp.execute("query-migrate");
    if (info.status === "completed") return;
    if (info.status === "failed" || info.status === "cancelled") {
      throw errors.internal(
        `snapshot ${info.status}`,
        new Error(`migration ${info.status}: ${info["error-desc"] ?? "no reason given"}`),
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 20);
  }
  throw errors.internal(`snapshot did not complete within ${timeoutMs / 1000} s`);
}

async function tail(file: string, bytes = 2000): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.slice(-bytes).trim() || "(no output)";
  } catch {
    return "(no output)";
  }
}

function withConsole(err: unknown, spec: VmSpec): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message += ` (see ${join(spec.runDir, RUN_FILES.vmmLog)})`;
  return e;
}
