/** A team role, highest first. */
export const ROLES = ["owner", "admin", "member"] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };

/** Whether `role` is at least `min` (the API's rule for who may manage members and rename). */
export function roleAtLeast(role: Role | null | undefined, min: Role): boolean {
  return role ? RANK[role] >= RANK[min] : false;
}

/** Why `name` is not a team name the API takes (1-100 characters after trimming), or null. */
export function teamNameProblem(name: string): string | null {
  const n = name.trim();
  if (!n) return "Type a name";
  return n.length > 100 ? "At most 100 characters" : null;
}

// Deliberately loose: the server holds the real rule; this catches typos before a round trip.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Why `email` cannot be an address, or null. */
export function emailProblem(email: string): string | null {
  const e = email.trim();
  if (!e) return "Type an email address";
  if (e.length > 254) return "At most 254 characters";
  return EMAIL.test(e) ? null : "That is not an email address";
}

/** Fewest characters `GET /v1/users/search` answers for, so the autocomplete waits until then. */
export const SEARCH_MIN_CHARS = 3;

/** Whether an email prefix is long enough to search for. */
export function shouldSearch(prefix: string): boolean {
  return prefix.trim().length >= SEARCH_MIN_CHARS;
}

/** Which roles `actor` may give to others: only owners make owners. */
export function assignableRoles(actor: Role | null | undefined): Role[] {
  if (actor === "owner") return [...ROLES];
  if (actor === "admin") return ["admin", "member"];
  return [];
}

/**
 * The team to switch to after leaving or deleting `goneId`: the user's default team unless that is
 * the one gone, else the first other one; undefined when the user has no other team.
 */
export function teamAfterLeaving<T extends { id: string; is_default?: boolean }>(
  teams: T[],
  goneId: string,
): T | undefined {
  const others = teams.filter((t) => t.id !== goneId);
  return others.find((t) => t.is_default) ?? others[0];
}

/**
 * The highlighted suggestion after a key press in the member search: arrows move and wrap, and
 * -1 means none (Enter then adds what was typed).
 */
export function moveHighlight(current: number, count: number, key: "ArrowDown" | "ArrowUp"): number {
  if (count === 0) return -1;
  if (key === "ArrowDown") return current >= count - 1 ? 0 : current + 1;
  return current <= 0 ? count - 1 : current - 1;
}
