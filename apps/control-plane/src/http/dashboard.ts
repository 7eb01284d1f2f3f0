import { existsSync, type Stats, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "@wrenn/common";
import { readSourceHash, sourceHash } from "@wrenn/common/source-hash";
import type { Context } from "hono";
import type { AppEnv } from "./context.ts";

/** Paths that belong to the API (answered by their routes or a JSON 404), never to the dashboard. */
export const API_PATH = /^\/(v1|e2b|docs|openapi\.(json|yaml)|health)(\/|$)/;

/** The command that rebuilds the dashboard, as the stale-build page tells it. */
export const DASHBOARD_BUILD_COMMAND = "node scripts/build.mjs dashboard";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};
const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json)|image\/svg)/;
// Vite names every file under assets/ by its content hash: one URL, one content, forever.
const IMMUTABLE = "public, max-age=31536000, immutable";
// How long a computed source hash is trusted: editing a source shows up within this.
const HASH_CHECK_MS = 1_000;

/**
 * The folder of the dashboard build when none is configured: `apps/dashboard/dist` of the
 * repository this file is in (found by walking up, so it holds for the TypeScript sources and for
 * a bundle under `apps/control-plane/dist`).
 */
export function defaultDashboardDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const app = join(dir, "apps", "dashboard");
    if (existsSync(app)) return join(app, "dist");
    if (dirname(dir) === dir) return join(from, "dashboard-dist-not-found");
  }
}

/** Whether the build in `distDir` may be served, as last checked. */
type BuildState =
  | { kind: "fresh" }
  | { kind: "missing" }
  | { kind: "stale"; built: string | undefined; sources: string }
  | { kind: "absent" };

/** A file read from the build, with its gzip form when worth it. */
interface CachedFile {
  stat: Pick<Stats, "mtimeMs" | "size">;
  body: Buffer;
  gzip: Buffer | undefined;
}

/**
 * Serves the dashboard's Vite build at `/`: files from `distDir`, and `index.html` for any other
 * GET that accepts HTML and is not an API path (client-side routes). Files under `assets/` get
 * a year-long immutable cache; `index.html` `no-cache`. When the dashboard's sources sit next
 * to the build (`<distDir>/../src`) and their {@link sourceHash} differs from the one the build
 * recorded in `.source-hash`, pages answer 503 with how to rebuild: a stale build is never served.
 * Register after every API route.
 */
export function mountDashboard(
  app: OpenAPIHono<AppEnv>,
  opts: {
    distDir: string;
    log: Logger;
    /** How long a source-hash check is trusted (default 1 s); 0 checks on every page. */
    recheckMs?: number;
  },
): void {
  const recheckMs = opts.recheckMs ?? HASH_CHECK_MS;
  const distDir = resolve(opts.distDir);
  const appDir = dirname(distDir);
  const files = new Map<string, CachedFile>();
  let checked: { at: number; state: BuildState } | undefined;

  const buildState = (): BuildState => {
    if (checked && Date.now() - checked.at < recheckMs) return checked.state;
    const hasSources = existsSync(join(appDir, "src")) && existsSync(join(appDir, "package.json"));
    const hasBuild = existsSync(join(distDir, "index.html"));
    let state: BuildState;
    if (!hasBuild) state = hasSources ? { kind: "missing" } : { kind: "absent" };
    else if (!hasSources) state = { kind: "fresh" };
    else {
      const built = readSourceHash(distDir);
      const sources = sourceHash(appDir);
      state = built === sources ? { kind: "fresh" } : { kind: "stale", built, sources };
    }
    if (state.kind !== checked?.state.kind) {
      const log = state.kind === "fresh" ? opts.log.debug : opts.log.warn;
      log.call(opts.log, { distDir, state: state.kind }, "dashboard build state");
    }
    checked = { at: Date.now(), state };
    return state;
  };

  const read = async (path: string): Promise<CachedFile | undefined> => {
    let stat: Stats;
    try {
      stat = statSync(path);
    } catch {
      return undefined;
    }
    if (!stat.isFile()) return undefined;
    const hit = files.get(path);
    if (hit && hit.stat.mtimeMs === stat.mtimeMs && hit.stat.size === stat.size) return hit;
    const body = await readFile(path);
    const type = contentTypes[extname(path)] ?? "";
    const gzip = COMPRESSIBLE.test(type) && body.length > 1024 ? gzipSync(body) : undefined;
    const entry = { stat: { mtimeMs: stat.mtimeMs, size: stat.size }, body, gzip };
    files.set(path, entry);
    return entry;
  };

  const send = (c: Context<AppEnv>, file: CachedFile, path: string, cacheControl: string) => {
    const headers: Record<string, string> = {
      "content-type": contentTypes[extname(path)] ?? "application/octet-stream",
      "cache-control": cacheControl,
      vary: "accept-encoding",
    };
    const gzip = file.gzip && /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
    if (gzip) headers["content-encoding"] = "gzip";
    const body = gzip && file.gzip ? file.gzip : file.body;
    headers["content-length"] = String(body.length);
    if (c.req.method === "HEAD") return c.body(null, 200, headers);
    return c.body(new Uint8Array(body), 200, headers);
  };

  app.on(["GET", "HEAD"], "*", async (c, next) => {
    const path = c.req.path;
    if (API_PATH.test(path)) return next();
    const state = buildState();
    if (state.kind === "absent") return next();
    const wantsHtml = /\btext\/html\b/.test(c.req.header("accept") ?? "");

    const file = filePath(distDir, path);
    if (file && !file.endsWith(`${sep}index.html`) && state.kind !== "missing") {
      const found = await read(file);
      if (found) {
        const underAssets = file.startsWith(join(distDir, "assets") + sep);
        return send(c, found, file, underAssets ? IMMUTABLE : "no-cache");
      }
    }
    // Everything else is a client-side route: the app shell for browsers, a JSON 404 for the rest.
    if (!wantsHtml && path !== "/" && !path.endsWith("/index.html")) return next();
    if (state.kind !== "fresh")
      return c.html(unavailablePage(state, distDir), 503, { "cache-control": "no-store" });
    const index = await read(join(distDir, "index.html"));
    if (!index)
      return c.html(unavailablePage({ kind: "missing" }, distDir), 503, { "cache-control": "no-store" });
    return send(c, index, "index.html", "no-cache");
  });
}

/** The file under `distDir` a URL path names, or undefined for traversal, dot files and malformed paths. */
function filePath(distDir: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const parts = decoded.split("/").filter(Boolean);
  // Dot files (`.source-hash`) and `..` stay private.
  if (parts.length === 0 || parts.some((p) => p.startsWith("."))) return undefined;
  const full = resolve(distDir, ...parts);
  return full.startsWith(distDir + sep) ? full : undefined;
}

function unavailablePage(state: BuildState, distDir: string): string {
  const why =
    state.kind === "stale"
      ? "The dashboard's sources changed since it was built, and a stale build is never served."
      : "The dashboard has not been built yet.";
  const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wrenn dashboard: rebuild needed</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2328}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}</style>
</head><body>
<h1>Dashboard build needed</h1>
<p>${why}</p>
<p>Rebuild it from the repository root, then reload this page:</p>
<p><code>${esc(DASHBOARD_BUILD_COMMAND)}</code></p>
<p><code>scripts/wrenn up</code> and <code>scripts/test</code> rebuild it by themselves. The API is not affected.</p>
<p><small>Build folder: <code>${esc(distDir)}</code></small></p>
</body></html>`;
}
