import type { EgressPolicy } from "@wrenn/common";
import type { PersistedNetwork } from "../vmm/network-attachment.ts";

/** Lifecycle states of a sandbox on this host. */
export type SandboxState = "starting" | "running" | "pausing" | "paused" | "stopping" | "stopped" | "error";

/** What the agent remembers about a sandbox, persisted as `sandbox.json` so restarts and pauses survive. */
export interface SandboxRecord {
  id: string;
  teamId: string;
  templateId: string;
  templateTeamId: string;
  templateName: string;
  /** The template generation the sandbox descends from (its disk's backing file lives there). */
  generationDir: string;
  vcpus: number;
  memoryMb: number;
  diskSizeMb: number;
  timeoutSec: number;
  metadata: Record<string, string>;
  envs: Record<string, string>;
  /** Needed to talk to envd again after an agent restart (the file is mode 0600). */
  accessToken?: string | undefined;
  /** envd's default user / working directory, handed over on every `/init` (built templates' USER / WORKDIR). */
  defaultUser?: string | undefined;
  defaultWorkdir?: string | undefined;
  /** Outbound traffic rules (egress.ts); absent = everything may leave. */
  egress?: EgressPolicy | undefined;
  state: SandboxState;
  /** True when the agent paused it on its own (inactivity or PauseAll). */
  autoPaused: boolean;
  envdVersion: string;
  createdAt: string;
  lastActiveAt: string;
  /**
   * Fork captures (directories under `forks/`) a fork's disk chain stands on: its own and those
   * its source's disk stood on. A capture is deleted once no sandbox names it.
   */
  forkCaptures?: string[] | undefined;
  /** Network provider kind the VM ran with: a pause state only restores on the same kind. */
  networkKind: string;
  /**
   * While the VM runs: what a restarted agent needs to take it over (the VMM process
   * survives an agent crash or upgrade). Absent when paused or not started yet.
   */
  runtime?: SandboxRuntime | undefined;
}

/** The live parts of a running sandbox, saved in its record (see {@link SandboxRecord.runtime}). */
export interface SandboxRuntime {
  /** VMM process id and its start time (`/proc/<pid>/stat` field 22): together they name one process. */
  pid: number;
  startTime: string;
  /** The network lease (slot, namespace, addresses); the envd address follows from it. */
  network: PersistedNetwork;
}

/**
 * What a sandbox is created from (input of `SandboxManager.create`): the control plane's
 * `CreateSandboxRequest` on this side of the wire. vCPUs and memory are checked against the
 * limits; the sandbox runs with those of its template snapshot.
 */
export interface SandboxSpec {
  sandboxId: string;
  teamId: string;
  templateId: string;
  templateTeamId?: string;
  templateName?: string;
  vcpus?: number;
  memoryMb?: number;
  diskSizeMb?: number;
  timeoutSec?: number;
  envs?: Record<string, string>;
  metadata?: Record<string, string>;
  envdAccessToken?: string | undefined;
  defaultUser?: string | undefined;
  defaultWorkdir?: string | undefined;
  egress?: EgressPolicy | undefined;
}

/** A read-only view of one sandbox for listings. */
export interface SandboxView extends Readonly<SandboxRecord> {
  /** The VMM process id while a VM runs. */
  pid: number | undefined;
  /** The sandbox's disk overlay (for disk-usage metrics). */
  diskPath: string;
  /** Host address where guest ports are reachable (undefined with user-mode networking). */
  guestHost: string | undefined;
}
