import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, shoot, shotsDir, until, viewports } from "./browser.ts";

// The team and admin pages (stats, templates, API keys, team, audit, BYOC hosts, builds, channels, admin)
// in real Chromium against a real control plane (PostgreSQL, Redis) serving the Vite build. No
// VM: these pages need none (the capsule pages' journey with microVMs is dashboard.vm.test.ts).
// The only stand-in is the webhook receiver, a local HTTP server in place of a chat service.

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));

let t: TestApp;
let server: ReturnType<typeof serve>;
let hook: Server;
const hookBodies: string[] = [];
let base = "";
let served = "";
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let owner: Awaited<ReturnType<typeof signupUser>>;
let other: Awaited<ReturnType<typeof signupUser>>;

const byTestId = (id: string) => page.getByTestId(id);

/** A browser context signed in with `token` (the JWT the login form would store). */
async function signedIn(token: string, viewport: { width: number; height: number } = viewports.desktop) {
  const c = await newContext(browser, base, viewport);
  await c.addInitScript(`localStorage.setItem("wrenn.token", ${JSON.stringify(token)})`);
  return c;
}

beforeAll(async () => {
  // Build the current sources, then serve a copy (no sources beside it, so no stale check races an edit).
  execFileSync(process.execPath, ["scripts/build.mjs", "dashboard"], { cwd: ROOT, stdio: "inherit" });
  served = await mkdtemp(join(tmpdir(), "wrenn-dashboard-pages-"));
  await cp(join(ROOT, "apps/dashboard/dist"), join(served, "dist"), { recursive: true });
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      hookBodies.push(body);
      res.end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
  [t, browser] = await Promise.all([
    createTestApp({
      env: {
        WRENN_DASHBOARD_DIR: join(served, "dist"),
        WRENN_ENCRYPTION_KEY: "ab".repeat(32),
        WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32",
      },
    }),
    launchChromium(),
  ]);
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  owner = await signupUser(t.app, "Olive Owner");
  other = await signupUser(t.app, "Otto Other");
  await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [owner.user.id.slice(4)]);
  ctx = await signedIn(owner.token);
  page = await ctx.newPage();
  process.stdout.write(`dashboard page screenshots: ${shotsDir()}\n`);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
  await t?.cleanup();
  if (served) await rm(served, { recursive: true, force: true });
});

describe("team and admin pages in Chromium", { timeout: 120_000 }, () => {
  it("stats: range in the URL, four cards and two charts", async () => {
    await page.goto("/stats?range=6h");
    await byTestId("stat-running-value").waitFor();
    expect(await byTestId("stat-running-value").textContent()).toBe("0");
    expect(await byTestId("stat-memory-value").textContent()).toBe("0 MiB");
    expect(await byTestId("stats-range-6h").getAttribute("aria-pressed")).toBe("true");
    await expect(byTestId("chart-capsules").locator("canvas").isVisible()).resolves.toBe(true);
    await expect(byTestId("chart-resources").locator("canvas").isVisible()).resolves.toBe(true);
    await byTestId("stats-range-30d").click();
    await page.waitForURL(/range=30d/);
    // A range the API does not know falls back to the default instead of failing the page.
    await page.goto("/stats?range=2y");
    await until(
      "default range",
      async () => (await byTestId("stats-range-1h").getAttribute("aria-pressed")) === "true",
    );
    await byTestId("stat-running-value").waitFor();
    await shoot(page, "pages-01-stats");
  });

  it("API keys: the secret is shown once and works; delete asks first", async () => {
    await page.goto("/api-keys");
    await byTestId("create-api-key").click();
    await byTestId("api-key-submit").click();
    await byTestId("create-api-key-dialog").getByRole("alert").waitFor();
    await byTestId("api-key-name").fill("ci runner");
    await byTestId("api-key-submit").click();
    const secret = (await byTestId("api-key-secret").textContent()) ?? "";
    expect(secret).toMatch(/^wrn_/);
    const me = await fetch(`${base}/v1/me`, { headers: { "x-api-key": secret } });
    expect(me.status).toBe(200);
    await shoot(page, "pages-02-api-key-secret");
    await byTestId("api-key-done").click();
    const row = byTestId("api-key-row-ci runner");
    await row.waitFor();
    expect(await byTestId("api-keys-table").textContent()).not.toContain(secret);
    await row.getByRole("button", { name: "Delete key ci runner" }).click();
    await byTestId("confirm-action").click();
    await row.waitFor({ state: "detached" });
    expect((await fetch(`${base}/v1/me`, { headers: { "x-api-key": secret } })).status).toBe(401);
  });

  it("team: rename, add a member through the autocomplete, change the role; delete needs the typed name", async () => {
    await page.goto("/team");
    await byTestId("team-name").fill("Olive Labs");
    await byTestId("team-rename").click();
    await until("renamed in the switcher", async () =>
      (await byTestId("team-switcher").textContent())?.includes("Olive Labs"),
    );
    await byTestId("member-email").fill("not-an-email");
    await byTestId("add-member").click();
    await byTestId("add-member-form").getByText("That is not an email address").waitFor();
    // Someone outside the caller's teams is found by exact email only (the API's scoping).
    await byTestId("member-email").fill(other.user.email);
    await byTestId("member-suggestions").getByText("Otto Other").waitFor();
    await byTestId("member-email").press("ArrowDown");
    await byTestId("member-email").press("Enter");
    await byTestId("add-member").click();
    await byTestId(`member-row-${other.user.email}`).waitFor();
    await byTestId(`member-role-${other.user.email}`).selectOption("admin");
    await until("role saved", async () => {
      const members = await call(t.app, "GET", `/v1/teams/${owner.team.id}/members`, { token: owner.token });
      return members.body.members.some(
        (m: { email: string; role: string }) => m.email === other.user.email && m.role === "admin",
      );
    });
    await shoot(page, "pages-03-team");
    await byTestId("delete-team").click();
    expect(await byTestId("confirm-action").isDisabled()).toBe(true);
    await byTestId("confirm-dialog").getByRole("textbox").fill("olive labs");
    expect(await byTestId("confirm-action").isDisabled()).toBe(true);
    await byTestId("confirm-dialog").getByRole("textbox").fill("Olive Labs");
    expect(await byTestId("confirm-action").isDisabled()).toBe(false);
    await byTestId("confirm-dialog").getByRole("button", { name: "Cancel" }).click();
  });

  it("audit log: filters go to the URL and the API; a backwards window is refused in the form", async () => {
    await page.goto("/audit");
    await byTestId("audit-table").waitFor();
    await byTestId("audit-filter-action").fill("add");
    await byTestId("audit-apply").click();
    await page.waitForURL(/action=add/);
    await until("only member.add rows", async () => {
      const rows = await byTestId("audit-table").locator("tbody tr").all();
      const ids = await Promise.all(rows.map((r) => r.getAttribute("data-testid")));
      return ids.length > 0 && ids.every((id) => id === "audit-row-member.add");
    });
    await byTestId("audit-filter-since").fill("2030-01-02T00:00");
    await byTestId("audit-filter-until").fill("2030-01-01T00:00");
    await byTestId("audit-apply").click();
    await byTestId("audit-filters").getByText("'From' must be before 'to'").waitFor();
    expect(page.url()).not.toContain("since=");
    await shoot(page, "pages-04-audit");
  });

  it("templates: the platform template starts capsules but has no delete button", async () => {
    await page.goto("/templates");
    await byTestId("template-row-minimal").waitFor();
    expect(await byTestId("template-start-minimal").count()).toBe(1);
    expect(await byTestId("template-delete-minimal").count()).toBe(0);
    // No host is registered yet: starting a capsule fails with the API's message, not a blank page.
    await byTestId("template-start-minimal").click();
    await page.getByRole("alert").filter({ hasText: "Could not start from minimal" }).waitFor();
    expect(page.url()).toContain("/templates");
    await byTestId("snapshot-capsule").click();
    await byTestId("snapshot-dialog").getByText("No running capsules.").waitFor();
    await byTestId("snapshot-submit").click();
    await byTestId("snapshot-dialog")
      .getByRole("alert")
      .filter({ hasText: "Choose a running capsule" })
      .waitFor();
    await byTestId("snapshot-name").fill("../etc");
    await byTestId("snapshot-submit").click();
    await byTestId("snapshot-dialog")
      .getByText(/1-63 letters/)
      .waitFor();
    await shoot(page, "pages-05-templates");
  });

  it("admin: the BYOC switch reveals the team's hosts page, whose token registers a host", async () => {
    await page.goto("/admin/teams");
    const toggle = byTestId(`byoc-toggle-${owner.team.id}`);
    await toggle.waitFor();
    await toggle.click();
    await until("BYOC on", async () => (await toggle.getAttribute("aria-checked")) === "true");
    await byTestId("admin-switch").click();
    await page.waitForURL(/\/capsules/);
    await byTestId("nav-hosts").click();
    await byTestId("register-host").click();
    const command = (await byTestId("register-host-command").textContent()) ?? "";
    const token = (await byTestId("registration-token").textContent()) ?? "";
    expect(token).toMatch(/^wrh_/);
    const [envLine, ...argvLines] = command.split("\n");
    expect(envLine).toBe(`export WRENN_REGISTRATION_TOKEN='${token}'`);
    expect(argvLines.join("\n")).not.toContain(token);
    expect(command).toContain(`--control-plane '${base}'`);
    await shoot(page, "pages-06-register-host");
    await byTestId("register-host-done").click();
    const reg = await call(t.app, "POST", "/v1/hosts/register", {
      body: { token, address: "10.99.0.1:5007", arch: "x86_64", cpu_count: 4, memory_mb: 8192, disk_gb: 100 },
    });
    expect(reg.status).toBe(201);
    const hostId = reg.body.host.id as string;
    await page.reload(); // rather than wait for the 10 s poll
    await byTestId(`host-row-${hostId}`).getByText("4 vCPU · 8 GiB · 100 GB").waitFor({ timeout: 15_000 });
    // The platform admin sees it on the BYOC tab, with its sandbox count.
    await page.goto("/admin/hosts?tab=byoc");
    await byTestId("page-admin-hosts").getByText(hostId).waitFor();
    expect(await byTestId(`host-sandboxes-${hostId}`).textContent()).toContain("0 running");
    await byTestId("admin-hosts-tab-platform").click();
    await page.waitForURL(/tab=platform/);
    expect(await byTestId("page-admin-hosts").getByText(hostId).count()).toBe(0);
    await shoot(page, "pages-07-admin-hosts");
  });

  it("admin: granting the admin flag is confirmed and takes effect; non-admins get a readable refusal", async () => {
    const otherCtx = await signedIn(other.token);
    const otherPage = await otherCtx.newPage();
    await otherPage.goto("/admin/users");
    await otherPage.getByTestId("error-view").waitFor();
    expect(await otherPage.getByTestId("error-view").textContent()).toMatch(/admin/i);
    await page.goto("/admin/users");
    await byTestId(`admin-flag-${other.user.email}`).click();
    await byTestId("confirm-action").click();
    await until(
      "flag granted",
      async () => (await byTestId(`admin-flag-${other.user.email}`).textContent()) === "Revoke admin",
    );
    expect(await byTestId(`admin-flag-${owner.user.email}`).count()).toBe(0);
    await otherPage.reload();
    await otherPage.getByTestId("admin-users-table").waitFor();
    await otherCtx.close();
    await shoot(page, "pages-08-admin-users");
    // The change is in the platform audit log (it belongs to no team).
    await page.goto("/admin/audit");
    const row = byTestId("page-admin-audit").locator('[data-testid^="audit-row-"]').first();
    await row.waitFor();
    expect(await row.textContent()).toContain("is_admin=true");
  });

  it("channels: a webhook channel is tested before saving and created", async () => {
    await page.goto("/channels");
    await byTestId("create-channel").click();
    await byTestId("channel-submit").click();
    await byTestId("create-channel-dialog").getByText("Give the channel a name").waitFor();
    await byTestId("channel-name").fill("ops hook");
    await byTestId("channel-provider").selectOption("webhook");
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/wrenn`;
    await byTestId("channel-field-url").fill(hookUrl);
    await byTestId("channel-field-secret").fill("0123456789abcdef-signing");
    await byTestId("channel-test-draft").click();
    await until("test delivered", async () =>
      (await byTestId("channel-result").textContent({ timeout: 1_000 }))?.includes("delivered"),
    );
    expect(hookBodies.some((b) => b.includes("channel.test"))).toBe(true);
    await byTestId("channel-submit").click();
    await byTestId("channel-row-ops hook").waitFor();
    expect(await byTestId("channels-table").textContent()).not.toContain("0123456789abcdef-signing");
    await shoot(page, "pages-09-channels");
  });

  it("builds: the form checks before sending; a queued build opens its page and can be cancelled", async () => {
    await page.goto("/builds");
    await byTestId("new-build").click();
    await byTestId("build-submit").click();
    await byTestId("new-build-dialog").getByText("Name the template this build makes").waitFor();
    await byTestId("build-name").fill("web-env");
    await byTestId("build-source").fill("RUN echo hi");
    await byTestId("build-submit").click();
    await page.waitForURL(/\/builds\/bld-/);
    // No build worker runs in this control plane, so the build waits in the queue.
    expect(await byTestId("build-status").textContent()).toBe("queued");
    await byTestId("build-cancel").click();
    await until("cancelled", async () => (await byTestId("build-status").textContent()) === "cancelled");
    await page.goto("/builds");
    await byTestId("build-row-web-env").waitFor();
    await shoot(page, "pages-10-builds");
    // A platform admin sees every team's builds in the admin section, and opens one from there.
    await page.goto("/admin/builds");
    await byTestId("page-admin-builds").getByTestId("build-row-web-env").getByRole("link").click();
    await page.waitForURL(/\/admin\/builds\/bld-/);
    expect(await byTestId("build-status").textContent()).toBe("cancelled");
  });

  it("every page fits a 390 px phone without sideways scrolling", async () => {
    const phone = await signedIn(owner.token, viewports.phone);
    const p = await phone.newPage();
    for (const path of [
      "/stats",
      "/templates",
      "/api-keys",
      "/team",
      "/audit",
      "/hosts",
      "/channels",
      "/admin/hosts",
      "/admin/teams",
      "/admin/users",
      "/admin/builds",
      "/admin/audit",
    ]) {
      await p.goto(path);
      await p.locator('[data-testid^="page-"]').first().waitFor();
      await p.waitForLoadState("networkidle");
      expect(await p.evaluate("document.documentElement.scrollWidth"), path).toBeLessThanOrEqual(390);
    }
    await shoot(p, "pages-11-phone-admin-users");
    await phone.close();
  });
});

describe("leaving and deleting a team in Chromium", { timeout: 120_000 }, () => {
  it("a member leaves and lands in their own team; the owner deletes the team by typing its name", async () => {
    const otherCtx = await signedIn(other.token);
    const p = await otherCtx.newPage();
    await p.goto("/team");
    await p.getByTestId("team-switcher").selectOption(owner.team.id);
    await p.waitForURL(/\/capsules/);
    // In-app navigation: a page load would run the init script that plants the first token again.
    await p.getByTestId("nav-team").click();
    await until(
      "in Olive Labs",
      async () => (await p.getByTestId("team-name").inputValue()) === "Olive Labs",
    );
    await p.getByTestId("leave-team").click();
    await p.getByTestId("confirm-action").click();
    await p.waitForURL(/\/capsules/);
    await p.getByText("You left Olive Labs.", { exact: false }).waitFor();
    const members = await call(t.app, "GET", `/v1/teams/${owner.team.id}/members`, { token: owner.token });
    expect(members.body.members.map((m: { email: string }) => m.email)).not.toContain(other.user.email);
    await otherCtx.close();

    await page.goto("/team");
    await byTestId("delete-team").click();
    await byTestId("confirm-dialog").getByRole("textbox").fill("Olive Labs");
    await byTestId("confirm-action").click();
    // The owner had no other team: the session ends.
    await page.waitForURL(/\/login/);
    const gone = await call(t.app, "GET", `/v1/teams/${owner.team.id}`, { token: owner.token });
    expect(gone.status).not.toBe(200);
  });
});
