import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Used when the host's apt configuration names no mirror for the suite. */
export const FALLBACK_DEBIAN_MIRROR = "http://deb.debian.org/debian";

/** One apt source: a base URI and the suites it serves. */
interface AptSource {
  uri: string;
  suites: string[];
}

function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split("\n")) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) fields.set(m[1].toLowerCase(), m[2].trim());
    }
    if (fields.get("enabled") === "no" || !(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    const suites = (fields.get("suites") ?? "").split(/\s+/).filter(Boolean);
    for (const uri of (fields.get("uris") ?? "").split(/\s+/).filter(Boolean)) out.push({ uri, suites });
  }
  return out;
}

function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m?.[1] && m[2]) out.push({ uri: m[1], suites: [m[2]] });
  }
  return out;
}

/**
 * Picks the Debian mirror for `suite` from the host's own apt configuration (so the build
 * uses the same, already reachable, package source as the host). `WRENN_DEBIAN_MIRROR`
 * overrides it.
 */
export async function findDebianMirror(suite: string, aptDir = "/etc/apt"): Promise<string> {
  if (process.env.WRENN_DEBIAN_MIRROR) return process.env.WRENN_DEBIAN_MIRROR;
  const sources: AptSource[] = [];
  const list = join(aptDir, "sources.list");
  if (existsSync(list)) sources.push(...parseOneLine(await readFile(list, "utf8")));
  const dir = join(aptDir, "sources.list.d");
  if (existsSync(dir)) {
    for (const name of (await readdir(dir)).sort()) {
      const text = await readFile(join(dir, name), "utf8");
      if (name.endsWith(".sources")) sources.push(...parseDeb822(text));
      else if (name.endsWith(".list")) sources.push(...parseOneLine(text));
    }
  }
  const match = sources.find((s) => s.suites.includes(suite) && !/security/.test(s.uri));
  return (match?.uri ?? FALLBACK_DEBIAN_MIRROR).replace(/\/+$/, "");
}
