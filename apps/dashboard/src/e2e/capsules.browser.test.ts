import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { createTestApp, insertOnlineHost, insertSandbox, signupUser, type TestApp } from "@wrenn/testing/app";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, shoot, until } from "./browser.ts";

// The capsules list's paging, filters, running badge and live updates in real Chromium against a
// real control plane (PostgreSQL, Redis) serving the Vite build. The rows are sandbox records
// written straight into the database on a host row nothing listens behind: the list only reads
// records (the capsule journey on real microVMs is dashboard.vm.test.ts), and an action on one of
// them shows what a user sees when a host is unreachable.

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const RUNNING = 21;
const PAUSED = 2;

let t: TestApp;
let server: ReturnType<typeof serve>;
let base = "";
let served = "";
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let owner: Awaited<ReturnType<typeof signupUser>>;
let hostId = "";
const running: string[] = [];
const paused: string[] = [];

const byTestId = (id: string) => page.getByTestId(id);
/** The capsule rows on screen, by sandbox id. */
const rowIds = async () =>
  (await page
    .locator('[data-testid^="capsule-row-"]')
    .evaluateAll((rows) =>
      rows.map((r) => r.getAttribute("data-testid")?.replace("capsule-row-", "") ?? ""),
    )) as string[];

beforeAll(async () => {
  execFileSync(process.execPath, ["scripts/build.mjs", "dashboard"], { cwd: ROOT, stdio: "inherit" });
  served = await mkdtemp(join(tmpdir(), "wrenn-dashboard-capsules-"));
  await cp(join(ROOT, "apps/dashboard/dist"), join(served, "dist"), { recursive: true });
  [t, browser] = await Promise.all([
    createTestApp({ env: { WRENN_DASHBOARD_DIR: join(served, "dist") } }),
    launchChromium(),
  ]);
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  owner = await signupUser(t.app, "Lena List");
  // A port nothing listens on: actions reach no agent.
  hostId = await insertOnlineHost(t, "127.0.0.1:9");
  const teamId = owner.team.id.replace(/^team-/, "");
  for (let i = 0; i < RUNNING; i++)
    running.push(await insertSandbox(t, { teamId, hostId, state: "running" }));
  for (let i = 0; i < PAUSED; i++) paused.push(await insertSandbox(t, { teamId, hostId, state: "paused" }));
  ctx = await newContext(browser, base);
  await ctx.addInitScript(`localStorage.setItem("wrenn.token", ${JSON.stringify(owner.token)})`);
  page = await ctx.newPage();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await t?.cleanup();
  if (served) await rm(served, { recursive: true, force: true });
});

describe("capsules list in Chromium", { timeout: 120_000 }, () => {
  it("pages through the team's capsules with the cursor in the URL; Back returns to the first page", async () => {
    await page.goto("/capsules");
    await byTestId("capsules-table").waitFor();
    await until("the first page", async () => (await rowIds()).length === 20);
    expect((await byTestId("running-count").textContent())?.trim()).toBe(`${RUNNING} running`);
    const first = await rowIds();
    await shoot(page, "capsules-01-first-page");
    await byTestId("page-next").click();
    await page.waitForURL(/cursor=/);
    await until("the second page", async () => (await rowIds()).length === RUNNING + PAUSED - 20);
    const second = await rowIds();
    expect(second.some((id) => first.includes(id))).toBe(false);
    expect(new Set([...first, ...second]).size).toBe(RUNNING + PAUSED);
    expect(await byTestId("page-next").isDisabled()).toBe(true);
    await page.goBack();
    await until("back on the first page", async () => (await rowIds()).join() === first.join());
    expect(page.url()).not.toContain("cursor=");
  });

  it("filters by state through the URL, and a reload keeps the filter", async () => {
    await page.goto("/capsules");
    await byTestId("filter-state").selectOption("paused");
    await page.waitForURL(/state=paused/);
    await until(
      "only the paused capsules",
      async () =>
        (await rowIds()).sort().join() ===
        paused
          .map((id) => `sb-${id}`)
          .sort()
          .join(),
    );
    await page.reload();
    await until("still filtered", async () => (await rowIds()).length === PAUSED);
    expect(await byTestId("filter-state").inputValue()).toBe("paused");
    await byTestId("filter-state").selectOption("error");
    await byTestId("capsules-table").getByText("No capsules match these filters.").waitFor();
    await byTestId("filter-template").selectOption("minimal");
    await page.waitForURL(/template=minimal/);
    await byTestId("filter-state").selectOption("");
    await until("every capsule of the template", async () => (await rowIds()).length === 20);
  });

  it("shows a change made elsewhere without redrawing the table or its other rows", async () => {
    await page.goto("/capsules?state=running");
    await until("the running capsules", async () => (await rowIds()).length === 20);
    const target = (await rowIds())[0] ?? "";
    const other = (await rowIds())[1] ?? "";
    // Watch for flicker: the table or an unchanged row being replaced, or a spinner, during polls.
    await page.evaluate(`(() => {
      const table = document.querySelector('[data-testid="capsules-table"]');
      const row = document.querySelector('[data-testid="capsule-row-${other}"]');
      window.flicker = [];
      new MutationObserver(() => {
        if (!table.isConnected) window.flicker.push("table replaced");
        if (!row.isConnected) window.flicker.push("unchanged row replaced");
        if (document.querySelector('[role="status"]')) window.flicker.push("spinner");
        if (document.querySelector('[data-testid="page-capsules"]').textContent.includes("updating")) window.flicker.push("busy text");
      }).observe(document.body, { childList: true, subtree: true });
    })()`);
    await t.db.pool.query("UPDATE sandboxes SET state = 'paused' WHERE id = $1", [
      target.replace(/^sb-/, ""),
    ]);
    await until(
      "the badge and the row to follow",
      async () =>
        (await byTestId("running-count").textContent())?.trim() === `${RUNNING - 1} running` &&
        (await rowIds()).length === 20 &&
        !(await rowIds()).includes(target),
      20_000,
    );
    expect(await page.evaluate("window.flicker")).toEqual([]);
  });

  it("the capsule page links a port through the port proxy's address", async () => {
    const id = `sb-${running[1]}`;
    await page.goto(`/capsules/${id}`);
    await byTestId("port-input").fill("70000");
    expect(await page.getByRole("button", { name: "Add link" }).isDisabled()).toBe(true);
    await byTestId("port-input").fill("8000");
    await page.getByRole("button", { name: "Add link" }).click();
    // Served from an IP address, which cannot carry sub-domains: localhost, which browsers resolve for all.
    const { port } = new URL(base);
    expect(await byTestId("port-link-8000").getAttribute("href")).toBe(
      `http://8000-${id}.localhost:${port}/`,
    );
    await shoot(page, "capsules-03-overview-ports");
  });

  it("an action the host cannot carry out ends in a readable message, and the row stays", async () => {
    await page.goto("/capsules?state=running");
    const id = (await until("a running row", async () => (await rowIds())[0])) as string;
    await byTestId(`capsule-row-${id}`).getByTestId("capsule-pause").click();
    const alert = page.getByRole("alert").filter({ hasNotText: /^$/ }).first();
    await alert.waitFor();
    const text = (await alert.textContent()) ?? "";
    expect(text.length).toBeGreaterThan(10);
    expect(text).not.toMatch(/\bat .+:\d+:\d+|Internal Server Error|\[object Object\]|undefined/);
    await shoot(page, "capsules-02-action-error");
    await byTestId(`capsule-row-${id}`).waitFor();
  });
});
