import type { BuildLog, BuildStatus } from "../../api/builds.ts";
import { templateNameProblem } from "../templates/validate.ts";

/** Statuses after which nothing changes (polling stops). */
export function isFinished(status: BuildStatus): boolean {
  return status === "ready" || status === "error" || status === "cancelled";
}

/** The new-build form's values. */
export interface BuildDraft {
  name: string;
  kind: "recipe" | "dockerfile";
  source: string;
  from: string;
}

/** What is wrong with a draft before it is sent (name required and path-safe; a source), keyed by field. */
export function buildDraftProblems(d: BuildDraft): Record<string, string> {
  const out: Record<string, string> = {};
  if (!d.name.trim()) out.name = "Name the template this build makes";
  else {
    const p = templateNameProblem(d.name);
    if (p) out.name = p;
  }
  if (!d.source.trim())
    out.source =
      d.kind === "recipe"
        ? "Write at least one step, e.g. RUN apt-get install -y curl"
        : "Paste a Dockerfile";
  return out;
}

/**
 * Appends a page of log lines to what is shown, skipping lines already there (a poll that overlaps
 * the previous one must not print a line twice) and keeping at most `max` lines, newest kept.
 */
export function appendLogs(shown: BuildLog[], page: BuildLog[], max = 5000): BuildLog[] {
  const last = shown.at(-1)?.id ?? -1;
  const fresh = page.filter((l) => l.id > last);
  if (fresh.length === 0) return shown;
  const all = [...shown, ...fresh];
  return all.length > max ? all.slice(all.length - max) : all;
}

/** "1 min 5 s" between two instants (to now while running), or "—" before it started. */
export function duration(startIso: string | null, endIso: string | null, now = Date.now()): string {
  if (!startIso) return "—";
  const ms = (endIso ? Date.parse(endIso) : now) - Date.parse(startIso);
  if (!Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}
