import { api } from "./client.ts";

/** A user as the API returns it. */
export interface User {
  id: string;
  email: string;
  name: string;
  is_admin: boolean;
  created_at: string;
}

/** A member's role in a team. */
export type Role = "owner" | "admin" | "member";

/** A team as the API returns it (role: the caller's). */
export interface Team {
  id: string;
  name: string;
  slug: string;
  is_byoc: boolean;
  created_at: string;
  role?: Role;
  is_default?: boolean;
}

/** What sign-up, login and switch-team return. */
export interface SessionResponse {
  token: string;
  user: User;
  team: Team;
}

/** `GET /v1/me`. */
export interface Me {
  user: User | null;
  team: Team;
  role: Role | null;
  auth: { type: "jwt" | "api_key" };
}

/** Signs in with email and password. */
export function login(email: string, password: string): Promise<SessionResponse> {
  return api("POST", "/v1/auth/login", { body: { email, password } });
}

/** Creates an account (and its default team) and signs in. */
export function signup(name: string, email: string, password: string): Promise<SessionResponse> {
  return api("POST", "/v1/auth/signup", { body: { name, email, password } });
}

/** The signed-in user, team and role as the database says now. */
export function getMe(): Promise<Me> {
  return api("GET", "/v1/me");
}

/** Every team the user belongs to, with their role. */
export async function listTeams(): Promise<Team[]> {
  return (await api<{ teams: Team[] }>("GET", "/v1/teams")).teams;
}

/** A new session scoped to another of the user's teams. */
export function switchTeam(teamId: string): Promise<SessionResponse> {
  return api("POST", "/v1/auth/switch-team", { body: { team_id: teamId } });
}
