/** Lifecycle state of a sandbox, as the control plane reports it. */
export type SandboxState = "pending" | "starting" | "running" | "paused" | "stopped" | "missing" | "error";

/** A sandbox as `GET /v1/sandboxes/{id}` answers it (wire form). */
export interface SandboxWire {
  id: string;
  state: SandboxState;
  template: string;
  host_id: string | null;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  timeout_sec: number;
  metadata: Record<string, string>;
  allow_internet: boolean;
  allow_out: string[];
  deny_out: string[];
  created_at: string;
  last_active_at: string | null;
  /** Only in the answers of create (and resume/connect where the control plane sends it). */
  envd_access_token?: string;
}

/** What the SDK reports about a sandbox. */
export interface SandboxInfo {
  /** `sb-…` */
  sandboxId: string;
  state: SandboxState;
  /** Template name it was created from. */
  template: string;
  /** Host it is placed on (`host-…`), null before placement. */
  hostId: string | null;
  vcpus: number;
  memoryMb: number;
  diskSizeMb: number;
  /** Inactivity timeout in ms after which it is paused (0 = never). */
  timeoutMs: number;
  metadata: Record<string, string>;
  /** False: every destination is denied but those in `network.allowOut`. */
  allowInternetAccess: boolean;
  /** Egress rules (see {@link SandboxNetworkOptions}). */
  network: { allowOut: string[]; denyOut: string[] };
  createdAt: Date;
  lastActiveAt: Date | null;
}

/** Converts the wire form into {@link SandboxInfo}. */
export function sandboxInfoOf(w: SandboxWire): SandboxInfo {
  return {
    sandboxId: w.id,
    state: w.state,
    template: w.template,
    hostId: w.host_id,
    vcpus: w.vcpus,
    memoryMb: w.memory_mb,
    diskSizeMb: w.disk_size_mb,
    timeoutMs: w.timeout_sec * 1000,
    metadata: w.metadata,
    allowInternetAccess: w.allow_internet,
    network: { allowOut: w.allow_out, denyOut: w.deny_out },
    createdAt: new Date(w.created_at),
    lastActiveAt: w.last_active_at ? new Date(w.last_active_at) : null,
  };
}

/** Ranges `getMetrics` accepts. */
export type MetricsRange = "5m" | "10m" | "1h" | "2h" | "6h" | "12h" | "24h";

/** One resource sample of a sandbox. */
export interface MetricsPoint {
  timestamp: Date;
  /** Percent of one host CPU: 200 = two vCPUs busy. */
  cpuPercent: number;
  memoryRssBytes: number;
  diskBytes: number;
}

/** Answer of `getMetrics`. */
export interface SandboxMetrics {
  range: MetricsRange;
  /** Resolution: raw samples (`10m`), 30 s (`2h`) or 5 min (`24h`) averages. */
  tier: string;
  /** Oldest first. */
  points: MetricsPoint[];
}

/** Wire form of the metrics answer. */
export interface MetricsWire {
  range: MetricsRange;
  tier: string;
  points: { timestamp: string; cpu_percent: number; memory_rss_bytes: number; disk_bytes: number }[];
}

/** Converts the wire form into {@link SandboxMetrics}. */
export function metricsOf(w: MetricsWire): SandboxMetrics {
  return {
    range: w.range,
    tier: w.tier,
    points: w.points.map((p) => ({
      timestamp: new Date(p.timestamp),
      cpuPercent: p.cpu_percent,
      memoryRssBytes: p.memory_rss_bytes,
      diskBytes: p.disk_bytes,
    })),
  };
}

/** A snapshot: a template captured from a sandbox, as `POST /v1/snapshots` answers it. */
export interface SnapshotInfo {
  /** Id of the template (`tpl-…`). */
  snapshotId: string;
  /** Its name: pass it as `template` to `Sandbox.create`. */
  name: string;
  /** `snapshot` (RAM + disk: starts where it was captured) or `image` (a flattened disk). */
  type: "snapshot" | "image";
  vcpus: number;
  memoryMb: number;
  sizeBytes: number;
  createdAt: Date;
}

/** Wire form of a template. */
export interface TemplateWire {
  id: string;
  name: string;
  type: "snapshot" | "image";
  vcpus: number;
  memory_mb: number;
  size_bytes: number;
  created_at: string;
}

/** Converts the wire form into {@link SnapshotInfo}. */
export function snapshotInfoOf(w: TemplateWire): SnapshotInfo {
  return {
    snapshotId: w.id,
    name: w.name,
    type: w.type,
    vcpus: w.vcpus,
    memoryMb: w.memory_mb,
    sizeBytes: w.size_bytes,
    createdAt: new Date(w.created_at),
  };
}
