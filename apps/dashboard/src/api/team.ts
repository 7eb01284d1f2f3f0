import type { Role, Team } from "./account.ts";
import { api } from "./client.ts";

/** A team member. */
export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  joined_at: string;
}

/** A user the member search found. */
export interface UserHit {
  id: string;
  email: string;
  name: string;
}

const team = (id: string) => `/v1/teams/${encodeURIComponent(id)}`;

/** One team the caller belongs to, with the caller's role. */
export function getTeam(id: string): Promise<Team> {
  return api("GET", team(id));
}

/** Renames a team (admins and owners). */
export function renameTeam(id: string, name: string): Promise<Team> {
  return api("PATCH", team(id), { body: { name } });
}

/** Deletes a team (owners only). */
export function deleteTeam(id: string): Promise<void> {
  return api("DELETE", team(id));
}

/** The team's members, owners first. */
export async function listMembers(id: string): Promise<Member[]> {
  return (await api<{ members: Member[] }>("GET", `${team(id)}/members`)).members;
}

/** Adds an existing user by email. */
export function addMember(id: string, email: string, role: Role): Promise<Member> {
  return api("POST", `${team(id)}/members`, { body: { email, role } });
}

/** Changes a member's role. */
export function setMemberRole(id: string, userId: string, role: Role): Promise<void> {
  return api("PATCH", `${team(id)}/members/${encodeURIComponent(userId)}`, { body: { role } });
}

/** Removes a member. */
export function removeMember(id: string, userId: string): Promise<void> {
  return api("DELETE", `${team(id)}/members/${encodeURIComponent(userId)}`);
}

/** Leaves a team (the last owner cannot). */
export function leaveTeam(id: string): Promise<void> {
  return api("POST", `${team(id)}/leave`);
}

/** Users whose email starts with `prefix` (among people the caller can already see), for the add-member field. */
export async function searchUsers(prefix: string, signal?: AbortSignal): Promise<UserHit[]> {
  return (await api<{ users: UserHit[] }>("GET", "/v1/users/search", { query: { email: prefix }, signal }))
    .users;
}
