/**
 * The driver-neutral VM contract. The sandbox manager talks only to {@link Vmm};
 * the QEMU microvm driver implements it today, a Firecracker driver (REST API,
 * UFFD snapshot loading) can implement it later without touching callers.
 */

/** How a VM reaches the network. Implementations decide how the VMM process is launched and wired. */
export interface NetworkAttachment {
  /** Short description for logs (`user-mode :40123`, `netns wrenn-ns-3`). */
  readonly description: string;
  /** Host address + port where the guest's envd (guest port 49983) is reachable from the agent. */
  readonly envdEndpoint: { host: string; port: number };
  /** Host address where any guest port is reachable, or undefined when only envd is forwarded. */
  readonly guestHost: string | undefined;
  /** The QEMU `-netdev` option value (the id must be `n0`). */
  qemuNetdev(): string;
  /** Wraps the VMM command line, e.g. `ip netns exec wrenn-ns-3 …`; identity for user-mode networking. */
  wrapCommand(command: string, args: string[]): { command: string; args: string[] };
}

/** Where guest RAM lives. Snapshot formats depend on it, so it is explicit. */
export type GuestMemory =
  /** Anonymous RAM: cold boots and restores of full snapshots. */
  | { kind: "anonymous" }
  /** Shared file mapping: RAM is written through to `path` (template capture). */
  | { kind: "file-shared"; path: string }
  /** Private copy-on-write mapping of a template RAM file (sandboxes started from a template). */
  | { kind: "file-private"; path: string };

/** Everything needed to start one VM process. Identical machine-relevant fields are required for restores. */
export interface VmSpec {
  /** Sandbox or template id, used for the process name and logs. */
  id: string;
  /** Private runtime directory: control socket, pid file, console log. Must exist. */
  runDir: string;
  kernel: string;
  initrd: string;
  /** Extra kernel parameters after the driver's own (`console=…`, `root=…`). */
  kernelArgs: string;
  rootDisk: { path: string; format: "raw" | "qcow2" };
  vcpus: number;
  memoryMb: number;
  memory: GuestMemory;
  network: NetworkAttachment;
}

/** What a restore starts from. */
export type RestoreSource =
  /** Template snapshot: RAM in `spec.memory` (file-private), device state only in `stateFile`. */
  | { kind: "template"; stateFile: string }
  /**
   * Full snapshot: RAM and device state in `stateFile`. `spec.memory` is anonymous, or the
   * file-private mapping of a RAM file: every non-zero page of the state is copied over it,
   * pages zero in both stay unallocated (anonymous RAM would take huge pages, QEMU asks for them).
   */
  | {
      kind: "full";
      stateFile: string;
      /**
       * When given, `stateFile` is still being written: the VMM starts (and opens the file)
       * meanwhile and loads the state once this resolves; a rejection ends the restore.
       */
      written?: Promise<void>;
    };

/** A running VMM process. */
export interface VmInstance {
  readonly id: string;
  readonly pid: number;
  /** Resolves with the exit code (or null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
  /** True while the process runs. */
  readonly alive: boolean;
  /** Ends the process (graceful quit, then SIGKILL) and waits for it. Idempotent. */
  kill(): Promise<void>;
  /** Grows the root disk as seen by the guest (the guest gets a capacity-change notification). */
  resizeRootDisk(bytes: number): Promise<void>;
}

/** Facts about the VMM that snapshots must match on restore. */
export interface VmmFingerprint {
  driver: string;
  version: string;
  accel: string;
  /** The machine-shaping arguments (machine type, CPU model, devices), independent of paths and ports. */
  machine: string;
}

/** A VM monitor driver. */
export interface Vmm {
  readonly driver: string;
  /** Version, accelerator and machine shape; compared against snapshot metadata before a restore. */
  fingerprint(): Promise<VmmFingerprint>;
  /**
   * Takes over a VM a previous agent run left running (agent crash or upgrade): `pid` must
   * still be that VMM (same start time, see `processStartTime`) and answer its control socket.
   * Undefined when it cannot be adopted. Optional: a driver without it loses VMs on restart.
   */
  adopt?(id: string, runDir: string, pid: number, startTime: string): Promise<VmInstance | undefined>;
  /** Cold-boots a VM (template capture and benchmarks only; sandboxes start from snapshots). */
  boot(spec: VmSpec): Promise<VmInstance>;
  /** Starts a VM from a snapshot; resolves once the guest runs again. */
  restore(spec: VmSpec, source: RestoreSource): Promise<VmInstance>;
  /**
   * Captures a template snapshot of a VM booted with file-shared memory: device
   * state goes to `stateFile`, RAM stays in the shared file. Ends the VM.
   */
  captureTemplate(vm: VmInstance, stateFile: string): Promise<void>;
  /**
   * Saves RAM + device state to `stateFile` as they are at one instant, runs `whileStopped`
   * while the guest is stopped at that instant (e.g. copying the disk, which is flushed and
   * consistent with the state then) and lets the guest continue: after the whole save, or
   * with `background`, as soon as the device state is saved where the VMM can write the RAM
   * out while the guest runs (a longer save, a much shorter stop). `whileSaving`, when given, starts as soon as the guest is stopped and runs beside the
   * save; it may still run after the guest continued (a page map read then finds a superset
   * of the pages changed at the instant). Resolves once `stateFile` is complete, with how long
   * the guest was stopped and whether it ran during the save (`background`).
   */
  checkpoint(
    vm: VmInstance,
    stateFile: string,
    whileStopped: () => Promise<void>,
    whileSaving?: () => Promise<void>,
    options?: { background?: boolean },
  ): Promise<{ stoppedMs: number; background: boolean }>;
  /**
   * Writes `out`: the full snapshot `fullStateFile` with, of the guest's RAM, only the pages set
   * in `changed` (page `n` is bit `n % 8` of byte `n >> 3`), for a VM whose RAM was a private
   * mapping of a RAM file: restored over a private mapping of that file, `out` gives the same
   * guest and copies only those pages. Throws when the snapshot holds what it cannot rewrite.
   */
  reduceFullState(
    fullStateFile: string,
    changed: Uint8Array,
    out: string,
    signal?: AbortSignal,
  ): Promise<{ keptPages: number; droppedPages: number; bytes: number }>;
  /**
   * Saves RAM + device state of a VM to `stateFile` and ends the VM (pause). `whileSaving`, when
   * given, starts once the guest is stopped and runs beside the save (as in `checkpoint`).
   */
  saveFull(vm: VmInstance, stateFile: string, whileSaving?: () => Promise<void>): Promise<void>;
  /**
   * Turns a full snapshot into a template snapshot (RAM file + device state)
   * without running the guest: used to make a template from a paused sandbox.
   */
  convertFullToTemplate(
    spec: VmSpec,
    fullStateFile: string,
    ramFile: string,
    stateFile: string,
  ): Promise<void>;
}
