import { api } from "./client.ts";

/** Host statuses. */
export type HostStatus = "pending" | "online" | "offline" | "unreachable" | "draining";

/** A host as the API lists it. */
export interface Host {
  id: string;
  type: "regular" | "byoc";
  team_id: string | null;
  provider: string;
  availability_zone: string;
  arch: string;
  cpu_count: number;
  memory_mb: number;
  disk_gb: number;
  address: string;
  status: HostStatus;
  last_heartbeat_at: string | null;
  cert_expires_at: string | null;
  tags: string[];
  created_at: string;
}

/** A pending host and its one-time registration token. */
export interface HostWithToken {
  host: Host;
  registration_token: string;
}

/** Hosts the caller may see: the current team's BYOC hosts (all hosts for platform admins). */
export async function listHosts(): Promise<Host[]> {
  return (await api<{ hosts: Host[] }>("GET", "/v1/hosts")).hosts;
}

/** A new pending BYOC host for the current team and its one-time token (team owners). */
export function createByocHost(opts: {
  provider?: string;
  availability_zone?: string;
}): Promise<HostWithToken> {
  return api("POST", "/v1/hosts", { body: { type: "byoc", ...opts } });
}

/** A fresh token for a host that has not registered yet. */
export function regenerateHostToken(id: string): Promise<HostWithToken> {
  return api("POST", `/v1/hosts/${encodeURIComponent(id)}/token`);
}

/** Adds a tag. */
export function addHostTag(id: string, tag: string): Promise<Host> {
  return api("POST", `/v1/hosts/${encodeURIComponent(id)}/tags`, { body: { tag } });
}

/** Removes a tag. */
export function removeHostTag(id: string, tag: string): Promise<Host> {
  return api("DELETE", `/v1/hosts/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag)}`);
}

/** Deletes a host; without `force` the API refuses (409) while sandboxes live on it. */
export function deleteHost(id: string, force = false): Promise<void> {
  return api("DELETE", `/v1/hosts/${encodeURIComponent(id)}`, { query: { force: force || undefined } });
}
