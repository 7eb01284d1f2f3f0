/** Why `name` cannot name an API key (1-100 characters after trimming, like the API), or null. */
export function keyNameProblem(name: string): string | null {
  const n = name.trim();
  if (!n) return "Give the key a name, e.g. the machine or job that will use it";
  return n.length > 100 ? "At most 100 characters" : null;
}
