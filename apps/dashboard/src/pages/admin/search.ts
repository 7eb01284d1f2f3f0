/** The admin hosts page's tabs. */
export const HOST_TABS = ["platform", "byoc"] as const;

/** One of {@link HOST_TABS}. */
export type HostTab = (typeof HOST_TABS)[number];

/** `?tab=` of `/admin/hosts`: platform hosts unless the URL asks for BYOC. */
export function parseHostsSearch(search: Record<string, unknown>): { tab: HostTab } {
  return { tab: search.tab === "byoc" ? "byoc" : "platform" };
}

/** Which tab a host belongs on: the API's `regular` hosts are the platform's. */
export function hostTab(h: { type: "regular" | "byoc" }): HostTab {
  return h.type === "byoc" ? "byoc" : "platform";
}

/**
 * Rows whose fields contain every word of `query` (case-insensitive, any field), so "acme gpu"
 * finds a row with both; an empty query keeps every row.
 */
export function matchesQuery(fields: (string | null | undefined)[], query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = fields
    .filter((f): f is string => Boolean(f))
    .join(" ")
    .toLowerCase();
  return words.every((w) => hay.includes(w));
}
