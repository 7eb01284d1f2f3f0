// The CORS setting as configuration reads it (config.ts), apart from the middleware in http/cors.ts.

/**
 * Which browser origins may call the API cross-origin. `off` (the default) sends no CORS headers at
 * all: the dashboard is same-origin and SDKs/the CLI are not browsers. `any` (`*`) lets every origin
 * read answers but never with credentials (browsers refuse `*` with credentials, and allowing any
 * site to ride a user's session would be a hole). `exact` echoes only listed origins, with
 * credentials.
 */
export type CorsPolicy = { kind: "off" } | { kind: "any" } | { kind: "exact"; origins: ReadonlySet<string> };

/**
 * Parses `WRENN_CORS_ORIGINS`: empty → off; `*` alone → any; otherwise comma-separated exact origins
 * (`scheme://host[:port]`, no path). Throws with a one-line message naming the bad entry, so a typo
 * fails at start rather than silently allowing nothing.
 */
export function parseCorsOrigins(value: string | undefined): CorsPolicy {
  const entries = (value ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  if (entries.length === 0) return { kind: "off" };
  if (entries.includes("*")) {
    if (entries.length > 1) throw new Error("'*' must be the only entry");
    return { kind: "any" };
  }
  const origins = new Set<string>();
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`${entry} is not an origin such as https://app.example.com`);
    }
    if (!/^https?:$/.test(url.protocol) || url.origin !== entry.replace(/\/$/, "").toLowerCase()) {
      throw new Error(`${entry} is not an origin such as https://app.example.com (no path)`);
    }
    origins.add(url.origin);
  }
  return { kind: "exact", origins };
}
