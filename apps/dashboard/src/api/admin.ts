import type { Team, User } from "./account.ts";
import { api } from "./client.ts";
import type { Host } from "./hosts.ts";
import type { Template } from "./sandboxes.ts";

/** Sandboxes that hold something on a host or for a team. */
export interface SandboxCounts {
  running: number;
  paused: number;
  /** Every sandbox not yet destroyed. */
  live: number;
}

/** A host in the admin list, with its team's name (BYOC) and how many sandboxes it holds. */
export interface AdminHost extends Host {
  team_name?: string | null;
  sandboxes: SandboxCounts;
}

/** A team in the admin list. */
export interface AdminTeam extends Team {
  member_count: number;
  sandboxes: SandboxCounts;
}

/** A user in the admin list. */
export interface AdminUser extends User {
  team_count: number;
  has_password: boolean;
}

/** Every host of the platform, platform and BYOC alike (platform admins). */
export async function listAdminHosts(): Promise<AdminHost[]> {
  return (await api<{ hosts: AdminHost[] }>("GET", "/v1/admin/hosts")).hosts;
}

/** A pending platform host and its one-time registration token (platform admins). */
export function createPlatformHost(): Promise<{ host: Host; registration_token: string }> {
  return api("POST", "/v1/hosts", { body: { type: "regular" } });
}

/** Teams, newest first, optionally those whose name or slug contains `q` (platform admins). */
export async function listAdminTeams(q?: string, signal?: AbortSignal): Promise<AdminTeam[]> {
  return (await api<{ teams: AdminTeam[] }>("GET", "/v1/admin/teams", { query: { q }, signal })).teams;
}

/** Turns bring-your-own-compute on or off for a team. */
export function setTeamByoc(teamId: string, isByoc: boolean): Promise<Team> {
  return api("PUT", `/v1/admin/teams/${encodeURIComponent(teamId)}/byoc`, { body: { is_byoc: isByoc } });
}

/** Users, newest first, optionally those whose email or name contains `q` (platform admins). */
export async function listAdminUsers(q?: string, signal?: AbortSignal): Promise<AdminUser[]> {
  return (await api<{ users: AdminUser[] }>("GET", "/v1/admin/users", { query: { q }, signal })).users;
}

/** Grants or revokes platform admin. */
export function setUserAdmin(userId: string, isAdmin: boolean): Promise<User> {
  return api("PUT", `/v1/admin/users/${encodeURIComponent(userId)}/admin`, { body: { is_admin: isAdmin } });
}

/** Every template of every team. */
export async function listAdminTemplates(): Promise<Template[]> {
  return (await api<{ templates: Template[] }>("GET", "/v1/admin/templates")).templates;
}

/** Deletes any team's template (the platform's when `teamId` is absent). */
export function deleteAdminTemplate(name: string, teamId?: string): Promise<void> {
  return api("DELETE", `/v1/admin/templates/${encodeURIComponent(name)}`, { query: { team_id: teamId } });
}
