import type { SandboxInfo, SandboxWire } from "@wrenn/sdk";
import { ago, type Column, details, keyValueList } from "./output.ts";

/**
 * The `--json` form of a sandbox: the SDK's wire type of `GET /v1/sandboxes/{id}` (snake_case,
 * ISO dates) without the create-only access token, so `wrenn … --json` and the REST API agree.
 */
export type SandboxJson = Omit<SandboxWire, "envd_access_token">;

/** The inverse of the SDK's `sandboxInfoOf`: {@link SandboxInfo} back to its wire form. */
export function sandboxJson(info: SandboxInfo): SandboxJson {
  const { sandboxId, hostId, memoryMb, diskSizeMb, timeoutMs, createdAt, lastActiveAt, ...rest } = info;
  const { allowInternetAccess, network, ...same } = rest;
  return {
    id: sandboxId,
    ...same,
    host_id: hostId,
    memory_mb: memoryMb,
    disk_size_mb: diskSizeMb,
    timeout_sec: Math.round(timeoutMs / 1000),
    allow_internet: allowInternetAccess,
    allow_out: network.allowOut,
    deny_out: network.denyOut,
    created_at: createdAt.toISOString(),
    last_active_at: lastActiveAt?.toISOString() ?? null,
  };
}

/** Columns of `wrenn sandbox list`. */
export const sandboxColumns: Column<SandboxInfo>[] = [
  { header: "ID", value: (s) => s.sandboxId },
  { header: "STATE", value: (s) => s.state },
  { header: "TEMPLATE", value: (s) => s.template },
  { header: "VCPUS", value: (s) => String(s.vcpus), right: true },
  { header: "MEMORY", value: (s) => `${s.memoryMb} MB`, right: true },
  { header: "CREATED", value: (s) => ago(s.createdAt) },
  { header: "METADATA", value: (s) => keyValueList(s.metadata) },
];

/** One line for a sandbox's egress rules: `open`, or what is allowed and denied. */
function egressSummary(s: SandboxInfo): string {
  const { allowOut, denyOut } = s.network;
  const parts = [
    ...(s.allowInternetAccess ? [] : ["no internet"]),
    ...(allowOut.length ? [`allow ${allowOut.join(", ")}`] : []),
    ...(denyOut.length ? [`deny ${denyOut.join(", ")}`] : []),
  ];
  return parts.length ? parts.join("; ") : "open";
}

/** `wrenn sandbox get`'s human form. */
export function sandboxDetails(s: SandboxInfo): string {
  const when = (d: Date | null) => (d ? `${d.toISOString()} (${ago(d)})` : "-");
  const timeout = Math.round(s.timeoutMs / 1000);
  return details([
    ["ID", s.sandboxId],
    ["State", s.state],
    ["Template", s.template],
    ["Host", s.hostId ?? "-"],
    ["vCPUs", String(s.vcpus)],
    ["Memory", `${s.memoryMb} MB`],
    ["Disk", `${s.diskSizeMb} MB`],
    ["Timeout", timeout ? `${timeout}s of inactivity, then paused` : "none"],
    ["Metadata", keyValueList(s.metadata)],
    ["Egress", egressSummary(s)],
    ["Created", when(s.createdAt)],
    ["Last active", when(s.lastActiveAt)],
  ]);
}
