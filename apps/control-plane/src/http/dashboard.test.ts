import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createLogger } from "@wrenn/common";
import { writeSourceHash } from "@wrenn/common/source-hash";
import { call, createTestApp, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultDashboardDir, mountDashboard } from "./dashboard.ts";
import { createRouter } from "./openapi.ts";

// A dashboard build made of plain files in a temporary repository layout
// (<root>/package-lock.json, <root>/apps/dashboard/{src,dist}); the real Vite build is
// exercised by the dashboard's browser test.
let root: string;
let appDir: string;
let dist: string;
const BIG_JS = `console.log(${JSON.stringify("x".repeat(4000))});\n`;
const log = createLogger("dashboard-test", "silent");

function put(path: string, text: string) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

function build() {
  put(join(dist, "index.html"), "<!doctype html><div id=root></div>");
  put(join(dist, "assets", "index-abc123.js"), BIG_JS);
  put(join(dist, "favicon.svg"), "<svg/>");
  writeSourceHash(appDir);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "wrenn-dash-"));
  appDir = join(root, "apps", "dashboard");
  dist = join(appDir, "dist");
  put(join(root, "package-lock.json"), "{}");
  put(join(appDir, "package.json"), "{}");
  put(join(appDir, "src", "main.tsx"), "render()");
  return () => rmSync(root, { recursive: true, force: true });
});

const page = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };

function dashboardApp() {
  const app = createRouter();
  app.get("/v1/ping", (c) => c.json({ ok: true }));
  mountDashboard(app, { distDir: dist, log, recheckMs: 0 });
  app.notFound((c) => c.json({ code: "not_found", message: "no route" }, 404));
  return app;
}

describe("mountDashboard", () => {
  it("serves index.html for / and client-side routes, no-cache", async () => {
    build();
    const app = dashboardApp();
    for (const path of ["/", "/capsules", "/capsules/sb-1/terminal", "/index.html"]) {
      const res = await app.request(path, { headers: page });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toContain("<div id=root>");
    }
  });

  it("serves hashed assets immutable, gzipped when asked, and HEAD without a body", async () => {
    build();
    const app = dashboardApp();
    const plain = await app.request("/assets/index-abc123.js");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await plain.text()).toBe(BIG_JS);
    const gz = await app.request("/assets/index-abc123.js", { headers: { "accept-encoding": "gzip, br" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    const zipped = Buffer.from(await gz.arrayBuffer());
    expect(zipped.length).toBeLessThan(BIG_JS.length / 4);
    expect(gunzipSync(zipped).toString()).toBe(BIG_JS);
    const head = await app.request("/assets/index-abc123.js", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(BIG_JS.length));
    expect(await head.text()).toBe("");
    const icon = await app.request("/favicon.svg");
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
    expect(icon.headers.get("cache-control")).toBe("no-cache");
  });

  it("leaves API paths, missing files and private files to the API's JSON 404", async () => {
    build();
    const app = dashboardApp();
    expect(await (await app.request("/v1/ping", { headers: page })).json()).toEqual({ ok: true });
    for (const path of ["/v1/nope", "/e2b/sandboxes", "/docs/x", "/health"]) {
      const res = await app.request(path, { headers: page });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("not_found");
    }
    // A script or image that is not there is not answered with the HTML shell.
    expect((await app.request("/assets/gone.js")).status).toBe(404);
    for (const path of ["/.source-hash", "/assets/..%2f..%2fpackage.json", "/%2e%2e/package.json", "/%zz"]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain(`"{}"`);
    }
  });

  it("answers 503 with the rebuild command once a source changes, and serves again after a build", async () => {
    build();
    const app = dashboardApp();
    expect((await app.request("/", { headers: page })).status).toBe(200);
    put(join(appDir, "src", "main.tsx"), "render(changed)");
    const stale = await app.request("/capsules", { headers: page });
    expect(stale.status).toBe(503);
    expect(stale.headers.get("cache-control")).toBe("no-store");
    const text = await stale.text();
    expect(text).toContain("sources changed since it was built");
    expect(text).toContain("node scripts/build.mjs dashboard");
    // A dependency change (lockfile) makes it stale too.
    build();
    expect((await app.request("/", { headers: page })).status).toBe(200);
    put(join(root, "package-lock.json"), '{"lockfileVersion":3}');
    expect((await app.request("/", { headers: page })).status).toBe(503);
    build();
    expect((await app.request("/", { headers: page })).status).toBe(200);
  });

  it("says the dashboard is not built when only its sources exist, and stays out of the way without either", async () => {
    const app = dashboardApp();
    const res = await app.request("/", { headers: page });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("has not been built yet");
    rmSync(appDir, { recursive: true });
    const none = await dashboardApp().request("/", { headers: page });
    expect(none.status).toBe(404);
    expect(((await none.json()) as { code: string }).code).toBe("not_found");
  });

  it("serves a build without sources beside it (an installed copy) as is", async () => {
    build();
    rmSync(join(appDir, "src"), { recursive: true });
    writeFileSync(join(dist, ".source-hash"), "something-else\n");
    expect((await dashboardApp().request("/", { headers: page })).status).toBe(200);
  });

  it("finds the repository's apps/dashboard/dist by walking up", () => {
    expect(defaultDashboardDir(join(appDir, "..", "control-plane", "dist"))).toBe(dist);
  });
});

describe("the control plane app", () => {
  let t: TestApp;
  beforeAll(async () => {
    const fixed = mkdtempSync(join(tmpdir(), "wrenn-dash-app-"));
    const dir = join(fixed, "dist");
    put(join(dir, "index.html"), "<!doctype html><title>Wrenn</title>");
    t = await createTestApp({ env: { WRENN_DASHBOARD_DIR: dir } });
    return () => rmSync(fixed, { recursive: true, force: true });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it("serves the dashboard at / (WRENN_DASHBOARD_DIR) while the API keeps its routes", async () => {
    const home = await t.app.request("/", { headers: page });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("<title>Wrenn</title>");
    const health = await call(t.app, "GET", "/health", { headers: page });
    expect(health.body).toEqual({ status: "ok" });
    const spec = await call(t.app, "GET", "/openapi.json", { headers: page });
    expect(spec.body.paths["/v1/ws-tickets"]).toBeDefined();
    const docs = await t.app.request("/docs", { headers: page });
    expect(await docs.text()).toContain("swagger");
    const unknown = await call(t.app, "GET", "/v1/nothing-here", { headers: page });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("not_found");
  });
});
