import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createTestApp, type TestApp } from "@wrenn/testing/app";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let t: TestApp;
let server: ReturnType<typeof serve>;
let base: string;
let profile: string;

beforeAll(async () => {
  t = await createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  profile = await mkdtemp(join(tmpdir(), "wrenn-chromium-"));
});
afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await t?.cleanup();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe("/docs in Chromium", () => {
  it("renders Swagger UI from local assets with every route group", { timeout: 120_000 }, async () => {
    // Debian's Chromium (scripts/install-system-deps), driven by playwright-core; never a downloaded browser.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await context.newPage();
      const external: string[] = [];
      page.on("request", (req) => {
        if (!req.url().startsWith(base)) external.push(req.url());
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${base}/docs`);
      await page.waitForSelector(".swagger-ui .info .title", { timeout: 30_000 });
      expect(await page.textContent(".swagger-ui .info .title")).toContain("Wrenn API");
      await page.waitForSelector(".opblock-tag", { timeout: 30_000 });
      const tags = await page.$$eval(".opblock-tag", (els) => els.map((e) => e.getAttribute("data-tag")));
      expect(tags).toEqual(expect.arrayContaining(["auth", "api-keys", "teams", "users", "audit", "admin"]));
      const ops = await page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.textContent?.trim()));
      expect(ops).toContain("/v1/me");
      expect(errors).toEqual([]);
      expect(external).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
