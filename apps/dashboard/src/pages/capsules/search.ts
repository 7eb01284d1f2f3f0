import { type MetricsRange, metricsRanges, type SandboxState, sandboxStates } from "../../api/sandboxes.ts";

/** The capsules list's URL state: filters and the page cursor. */
export interface CapsulesSearch {
  state?: SandboxState;
  template?: string;
  cursor?: string;
}

const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Keeps only well-formed values from the URL (a hand-edited or stale link never breaks the page). */
export function validateCapsulesSearch(raw: Record<string, unknown>): CapsulesSearch {
  const out: CapsulesSearch = {};
  if (typeof raw.state === "string" && (sandboxStates as readonly string[]).includes(raw.state)) {
    out.state = raw.state as SandboxState;
  }
  if (typeof raw.template === "string" && TEMPLATE_NAME.test(raw.template)) out.template = raw.template;
  if (typeof raw.cursor === "string" && raw.cursor.length > 0 && raw.cursor.length <= 100)
    out.cursor = raw.cursor;
  return out;
}

/** Tabs of the capsule detail page. */
export const capsuleTabs = ["overview", "terminal", "files", "processes", "metrics"] as const;
/** One of {@link capsuleTabs}. */
export type CapsuleTab = (typeof capsuleTabs)[number];

/** The capsule detail page's URL state: tab, file browser directory, metrics range (all optional, so a plain link works). */
export interface CapsuleSearch {
  tab?: CapsuleTab;
  path?: string;
  range?: MetricsRange;
}

/** Default directory of the file browser (the guest user's home). */
export const HOME_DIR = "/home/user";

/** Parses the detail page's search params, dropping anything malformed (the page applies defaults). */
export function validateCapsuleSearch(raw: Record<string, unknown>): CapsuleSearch {
  const out: CapsuleSearch = {};
  if ((capsuleTabs as readonly unknown[]).includes(raw.tab)) out.tab = raw.tab as CapsuleTab;
  if ((metricsRanges as readonly unknown[]).includes(raw.range)) out.range = raw.range as MetricsRange;
  if (typeof raw.path === "string" && raw.path.startsWith("/") && raw.path.length <= 4096) {
    out.path = normalizePath(raw.path);
  }
  return out;
}

/** Collapses `//`, `.` and `..` in an absolute guest path ("/" at the top). */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return `/${parts.join("/")}`;
}

/** `[{name:"/",path:"/"}, {name:"home",path:"/home"}, …]` for the file browser's breadcrumbs. */
export function breadcrumbs(path: string): { name: string; path: string }[] {
  const parts = normalizePath(path).split("/").filter(Boolean);
  return [
    { name: "/", path: "/" },
    ...parts.map((name, i) => ({ name, path: `/${parts.slice(0, i + 1).join("/")}` })),
  ];
}

/** Joins a directory and a child name, refusing names that would escape the directory. */
export function childPath(dir: string, name: string): string {
  if (!name || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new Error("Use a name without slashes (and not . or ..).");
  }
  return normalizePath(`${dir}/${name}`);
}
