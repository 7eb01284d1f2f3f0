import type { SandboxInfo } from "@wrenn/sdk";
import { ago, type Column, details, keyValueList } from "./output.ts";

/**
 * The `--json` form of a sandbox: the REST API's wire shape (snake_case, ISO dates), so scripts
 * see the same fields from `wrenn … --json` as from `GET /v1/sandboxes/{id}`.
 */
export interface SandboxJson {
  id: string;
  state: string;
  template: string;
  host_id: string | null;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  timeout_sec: number;
  metadata: Record<string, string>;
  created_at: string;
  last_active_at: string | null;
}

/** {@link SandboxInfo} (the SDK's form) → {@link SandboxJson}. */
export function sandboxJson(info: SandboxInfo): SandboxJson {
  return {
    id: info.sandboxId,
    state: info.state,
    template: info.template,
    host_id: info.hostId,
    vcpus: info.vcpus,
    memory_mb: info.memoryMb,
    disk_size_mb: info.diskSizeMb,
    timeout_sec: Math.round(info.timeoutMs / 1000),
    metadata: info.metadata,
    created_at: info.createdAt.toISOString(),
    last_active_at: info.lastActiveAt ? info.lastActiveAt.toISOString() : null,
  };
}

/** Columns of `wrenn sandbox list`. */
export const sandboxColumns: Column<SandboxJson>[] = [
  { header: "ID", value: (s) => s.id },
  { header: "STATE", value: (s) => s.state },
  { header: "TEMPLATE", value: (s) => s.template },
  { header: "VCPUS", value: (s) => String(s.vcpus), right: true },
  { header: "MEMORY", value: (s) => `${s.memory_mb} MB`, right: true },
  { header: "CREATED", value: (s) => ago(s.created_at) },
  { header: "METADATA", value: (s) => keyValueList(s.metadata) },
];

/** `wrenn sandbox get`'s human form. */
export function sandboxDetails(s: SandboxJson): string {
  return details([
    ["ID", s.id],
    ["State", s.state],
    ["Template", s.template],
    ["Host", s.host_id ?? "-"],
    ["vCPUs", String(s.vcpus)],
    ["Memory", `${s.memory_mb} MB`],
    ["Disk", `${s.disk_size_mb} MB`],
    ["Timeout", s.timeout_sec ? `${s.timeout_sec}s of inactivity, then paused` : "none"],
    ["Metadata", keyValueList(s.metadata)],
    ["Created", `${s.created_at} (${ago(s.created_at)})`],
    ["Last active", s.last_active_at ? `${s.last_active_at} (${ago(s.last_active_at)})` : "-"],
  ]);
}
