/**
 * Dashboard load benchmark: the gzip size of the built JavaScript and CSS, and the time to
 * interactive of the capsules page in Chromium, served by a real control plane process (its own
 * process, real PostgreSQL and Redis) exactly as users get it at `/`.
 *
 * Time to interactive here = from navigation start until the capsules table is rendered from
 * the API's answer (session restored from localStorage, /v1/me and /v1/sandboxes fetched, the
 * "New capsule" button enabled). Cold: a fresh browser context (empty HTTP cache) per run;
 * warm: reloads in one context (hashed assets cached as immutable).
 *
 *   node scripts/build.mjs dashboard && node --import tsx bench/dashboard-load.ts [--runs 15]
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { pct, startBenchControlPlane } from "./control-plane-common.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "15" } } });
const runs = Number(values.runs);
const dist = fileURLToPath(new URL("../apps/dashboard/dist", import.meta.url));

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const summary = (label: string, xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  console.log(
    `${label} (${s.length} runs): median ${pct(s, 50).toFixed(0)} ms, p95 ${pct(s, 95).toFixed(0)} ms`,
  );
};

// 1. Bundle size, gzip -9 as a CDN or nginx would serve it: what the first page load fetches
// (index.html's entry script and the chunks it preloads) and everything (pages load lazily).
const assets = readdirSync(join(dist, "assets"));
const html = readFileSync(join(dist, "index.html"), "utf8");
const initial = new Set([...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]));
const sizes = { initialRaw: 0, initialGzip: 0, allRaw: 0, allGzip: 0, cssGzip: 0 };
for (const name of assets) {
  const bytes = readFileSync(join(dist, "assets", name));
  const gz = gzipSync(bytes, { level: 9 }).length;
  if (name.endsWith(".js")) {
    sizes.allRaw += bytes.length;
    sizes.allGzip += gz;
    if (initial.has(name)) {
      sizes.initialRaw += bytes.length;
      sizes.initialGzip += gz;
    }
  } else if (name.endsWith(".css")) sizes.cssGzip += gz;
}
console.log(
  `JavaScript, first load: ${kib(sizes.initialRaw)} raw, ${kib(sizes.initialGzip)} gzip (${initial.size} files); ` +
    `all chunks: ${kib(sizes.allRaw)} raw, ${kib(sizes.allGzip)} gzip (${assets.filter((a) => a.endsWith(".js")).length} files); ` +
    `CSS ${kib(sizes.cssGzip)} gzip`,
);

// 2. Time to interactive of the capsules page. The control plane serves a copy of the build:
// with no sources beside it, an edit made meanwhile cannot turn it into the stale-build page.
const served = mkdtempSync(join(tmpdir(), "wrenn-dashboard-bench-"));
cpSync(dist, join(served, "dist"), { recursive: true });
const cp = await startBenchControlPlane({ env: { WRENN_DASHBOARD_DIR: join(served, "dist") } });
const { base } = cp;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu"],
});
try {
  const index = await fetch(`${base}/capsules`, { headers: { accept: "text/html" } });
  if (!index.ok || !(await index.text()).includes('id="root"')) {
    throw new Error(`the control plane does not serve the dashboard at / (${index.status}); build it first`);
  }
  const res = await fetch(`${base}/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "Bench",
      email: "bench@example.com",
      password: "correct horse battery staple",
    }),
  });
  const { token } = (await res.json()) as { token: string };
  const seed = `localStorage.setItem("wrenn.token", ${JSON.stringify(token)})`;

  const interactive = async (page: import("playwright-core").Page, load: () => Promise<unknown>) => {
    const t0 = performance.now();
    await load();
    await page.getByTestId("capsules-table").waitFor();
    await page.locator('[data-testid="create-capsule"]:enabled').waitFor();
    return performance.now() - t0;
  };

  const cold: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript(seed);
    const page = await ctx.newPage();
    const ms = await interactive(page, () => page.goto(`${base}/capsules`));
    if (i > 0) cold.push(ms); // the first run warms the server and Chromium itself
    await ctx.close();
  }
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(seed);
  const page = await ctx.newPage();
  await interactive(page, () => page.goto(`${base}/capsules`));
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) warm.push(await interactive(page, () => page.reload()));
  await ctx.close();
  summary("capsules page time to interactive, cold cache", cold);
  summary("capsules page time to interactive, warm cache", warm);
} finally {
  await browser.close();
  await cp.stop();
  rmSync(served, { recursive: true, force: true });
}
