const SAFE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

/**
 * Why `name` cannot name a template, or null. Empty is fine (the API generates a name); otherwise
 * the platform's rule for names that become file paths: 1-63 letters, digits, '.', '_' or '-',
 * starting with a letter or digit, never "..".
 */
export function templateNameProblem(name: string): string | null {
  const n = name.trim();
  if (!n) return null;
  if (!SAFE_NAME.test(n) || n.includes("..")) {
    return "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit";
  }
  return null;
}

/** Templates in the order the page lists them: the team's own first (newest first), then the platform's by name. */
export function sortTemplates<T extends { platform: boolean; name: string; created_at: string }>(
  list: T[],
): T[] {
  return [...list].sort((a, b) => {
    if (a.platform !== b.platform) return a.platform ? 1 : -1;
    if (a.platform) return a.name.localeCompare(b.name);
    return Date.parse(b.created_at) - Date.parse(a.created_at);
  });
}
