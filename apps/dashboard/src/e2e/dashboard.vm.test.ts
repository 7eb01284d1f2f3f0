import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, shoot, shotsDir, until, viewports } from "./browser.ts";

// The whole dashboard in real Chromium against a real deployment: control plane serving the
// Vite build, PostgreSQL, Redis, a registered host agent and QEMU microVMs. The steps run in
// order and share one user, two sandboxes (the second one from a snapshot of the first) and
// one browser; each step screenshots its page.

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const PASSWORD = "correct horse battery staple";

let d: TestDeployment;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
const email = `e2e-${randomBytes(4).toString("hex")}@example.com`;
let sandboxId = "";
let fromSnapshotId = "";
let keyName = "";
let terminalTag = "";
let apiKey = "";
const snapshotName = `snap-${randomBytes(3).toString("hex")}`;

const byTestId = (id: string) => page.getByTestId(id);

/** The text rows of the xterm.js screen (DOM renderer). */
async function terminalLines(p: Page): Promise<string[]> {
  return p.locator(".xterm-rows > div").allTextContents();
}

/** Waits for the capsule row's state badge to read `state`. */
async function rowState(id: string, state: string): Promise<void> {
  await until(
    `${id} to be ${state}`,
    async () => {
      const text = await byTestId(`capsule-row-${id}`)
        .getByTestId("capsule-state")
        .textContent({ timeout: 2_000 });
      return text?.trim() === state;
    },
    180_000,
  );
}

let served = "";

beforeAll(async () => {
  // The control plane refuses a stale build: build the current sources, then serve a copy of
  // that build (no sources beside it), so an edit made while the test runs cannot swap it.
  execFileSync(process.execPath, ["scripts/build.mjs", "dashboard"], { cwd: ROOT, stdio: "inherit" });
  served = await mkdtemp(join(tmpdir(), "wrenn-dashboard-e2e-"));
  await cp(join(ROOT, "apps/dashboard/dist"), join(served, "dist"), { recursive: true });
  [d, browser] = await Promise.all([
    startTestDeployment({ env: { WRENN_DASHBOARD_DIR: join(served, "dist") } }),
    launchChromium(),
  ]);
  ctx = await newContext(browser, d.url);
  page = await ctx.newPage();
  process.stdout.write(`dashboard screenshots: ${shotsDir()}\n`);
});

afterEach(async (ctx) => {
  // A failed step leaves a picture of what the browser showed.
  if (ctx.task.result?.state === "fail" && page) {
    await shoot(page, `failed-${ctx.task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(() => {});
  }
});

afterAll(async () => {
  await browser?.close();
  await d?.close();
  if (served) await rm(served, { recursive: true, force: true });
});

describe("dashboard in Chromium", () => {
  it("serves the app at / and sends a signed-out visitor to the login page", async () => {
    await page.goto("/capsules");
    await page.waitForURL(/\/login\?redirect=/);
    await expect(byTestId("login-form").isVisible()).resolves.toBe(true);
    // This deployment has no GitHub app: the button says so instead of opening a JSON error.
    await byTestId("github-login").click();
    await page.getByText("Sign-in with GitHub is not configured on this server.").waitFor();
    await shoot(page, "01-login");
  });

  it("signs up through the form (client-side checks first) and lands on the capsules page", async () => {
    await page.goto("/signup");
    await page.getByRole("button", { name: "Sign up" }).click();
    await expect(page.getByText("Enter a valid email address.").isVisible()).resolves.toBe(true);
    await page.getByLabel("Name").fill("E2E Tester");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(/\/capsules$/);
    await byTestId("page-capsules").waitFor();
    expect(await byTestId("user-name").textContent()).toBe("E2E Tester");
    await shoot(page, "02-capsules-empty");
  });

  it("creates an API key whose secret is shown once", async () => {
    await byTestId("nav-api-keys").click();
    await byTestId("page-api-keys").waitFor();
    await byTestId("create-api-key").click();
    keyName = `e2e-key-${randomBytes(2).toString("hex")}`;
    await byTestId("api-key-name").fill(keyName);
    await byTestId("api-key-submit").click();
    const secret = await byTestId("api-key-secret").textContent();
    expect(secret).toMatch(/^wrn_/);
    apiKey = secret ?? "";
    await shoot(page, "03-api-key-created");
    await byTestId("api-key-done").click();
    await byTestId(`api-key-row-${keyName}`).waitFor();
    // The secret works against the API.
    const me = await fetch(`${d.url}/v1/me`, { headers: { "x-api-key": secret ?? "" } });
    expect(me.status).toBe(200);
  });

  it("creates a capsule from the dialog and sees it running in the list", async () => {
    await byTestId("nav-capsules").click();
    await byTestId("create-capsule").click();
    const dialog = byTestId("create-capsule-dialog");
    await dialog.waitFor();
    await byTestId("create-vcpus").fill("99");
    await byTestId("create-submit").click();
    await expect(dialog.getByText("Between 1 and 8 vCPUs.").isVisible()).resolves.toBe(true);
    await byTestId("create-vcpus").fill("1");
    await byTestId("create-envs").fill("GREETING=hello");
    await byTestId("create-metadata").fill("owner=e2e");
    await shoot(page, "04-create-dialog");
    await byTestId("create-submit").click();
    const row = page.locator('[data-testid^="capsule-row-sb-"]').first();
    await row.waitFor({ timeout: 180_000 });
    sandboxId = ((await row.getAttribute("data-testid")) ?? "").replace("capsule-row-", "");
    await rowState(sandboxId, "running");
    await until("running badge", async () =>
      (await byTestId("running-count").textContent())?.startsWith("1"),
    );
    await shoot(page, "05-capsules-running");
  });

  it("runs `echo hi` in the terminal and sees hi", async () => {
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    await page.goto(`/capsules/${sandboxId}?tab=terminal`);
    await until(
      "terminal connected",
      async () => (await byTestId("terminal-status").getAttribute("data-status")) === "connected",
      120_000,
    );
    await page.locator(".xterm").click();
    await page.keyboard.type("echo hi\n");
    await until("hi in the terminal", async () => (await terminalLines(page)).some((l) => l.trim() === "hi"));
    // Leave a mark in the shell's state that only the same session can know.
    await page.keyboard.type("cd /tmp && export MARK=same-shell && echo marked\n");
    await until("the mark set", async () => (await terminalLines(page)).some((l) => l.trim() === "marked"));
    await shoot(page, "06-terminal");
    // The PTY socket carries a single-use ticket, never the session's JWT.
    const token = (await page.evaluate<string | null>(`localStorage.getItem("wrenn.token")`)) ?? "";
    expect(token).not.toBe("");
    expect(sockets.length).toBeGreaterThan(0);
    for (const url of sockets) {
      expect(url).toMatch(new RegExp(`/v1/sandboxes/${sandboxId}/pty\\?ticket=wst_`));
      expect(url).not.toContain(token);
    }
  });

  it("reloads and reconnects to the same terminal session", async () => {
    const tag = await byTestId("terminal-tag").textContent();
    terminalTag = (tag ?? "").replace("session ", "");
    await page.reload();
    await until(
      "terminal reconnected",
      async () => (await byTestId("terminal-status").textContent())?.includes("Reconnected"),
      120_000,
    );
    expect(await byTestId("terminal-tag").textContent()).toBe(tag);
    await page.locator(".xterm").click();
    await page.keyboard.type("echo $MARK:$(pwd)\n");
    await until("the same shell's state", async () =>
      (await terminalLines(page)).some((l) => l.trim() === "same-shell:/tmp"),
    );
    await shoot(page, "07-terminal-reconnected");
  });

  it("follows a window resize: the shell sees the terminal's new width", async () => {
    /** The shell's idea of its width: the last `stty size` answer on screen. */
    const sttyCols = async () => {
      const sizes = (await terminalLines(page)).map((l) => /^(\d+) (\d+)$/.exec(l.trim())).filter((m) => m);
      return Number(sizes.at(-1)?.[2] ?? 0);
    };
    // One command that keeps reporting, so nothing is typed while output arrives.
    await page.keyboard.type("while :; do stty size; sleep 0.5; done\n");
    const wide = await until("stty size", sttyCols);
    await page.setViewportSize({ width: 900, height: 800 });
    await until(
      "the narrower width in the shell",
      async () => {
        const cols = await sttyCols();
        return cols > 0 && cols < wide;
      },
      30_000,
    );
    await page.keyboard.press("Control+C");
    await page.setViewportSize(viewports.desktop);
  });

  it("uploads a file, sees it listed, and downloads it back byte-equal", async () => {
    await byTestId("tab-files").click();
    await byTestId("files-table").waitFor();
    const bytes = randomBytes(300 * 1024);
    await byTestId("upload-input").setInputFiles({
      name: "blob.bin",
      mimeType: "application/octet-stream",
      buffer: bytes,
    });
    await byTestId("file-row-blob.bin").waitFor({ timeout: 60_000 });
    await shoot(page, "08-files");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      byTestId("file-download-blob.bin").click(),
    ]);
    const path = await download.path();
    expect(Buffer.compare(await readFile(path), bytes)).toBe(0);
    expect(download.suggestedFilename()).toBe("blob.bin");
  });

  it("makes a folder, opens it, views a text file there, deletes it, and goes back by the breadcrumbs", async () => {
    await byTestId("mkdir-name").fill("docs");
    await byTestId("mkdir-submit").click();
    await byTestId("file-open-docs").click();
    await page.waitForURL(/path=%2Fhome%2Fuser%2Fdocs|path=\/home\/user\/docs/);
    await byTestId("files-table").getByText("This directory is empty.").waitFor();
    await byTestId("upload-input").setInputFiles({
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("hello from the browser\n"),
    });
    await byTestId("file-view-notes.txt").click();
    await until("the file's text", async () =>
      (await byTestId("file-viewer-text").textContent())?.includes("hello from the browser"),
    );
    await shoot(page, "08b-file-viewer");
    await page.keyboard.press("Escape");
    await byTestId("file-delete-notes.txt").click();
    await byTestId("confirm-action").click();
    await byTestId("file-row-notes.txt").waitFor({ state: "detached" });
    await byTestId("file-breadcrumbs").getByRole("button", { name: "user" }).click();
    await byTestId("file-row-blob.bin").waitFor();
    await byTestId("file-row-docs").waitFor();
  });

  it("shows processes and metrics charts", async () => {
    await byTestId("tab-processes").click();
    await byTestId("processes-table").waitFor();
    // The terminal the earlier steps typed into is one of envd's processes, under its tag.
    await byTestId("processes-table").getByText(terminalTag).waitFor({ timeout: 30_000 });
    const terminalRow = byTestId("processes-table").locator("tr", { hasText: terminalTag });
    await terminalRow.getByText("terminal", { exact: true }).waitFor();
    // A background command started through the API is listed too, and killed from its row.
    const started = await fetch(`${d.url}/v1/sandboxes/${sandboxId}/exec`, {
      method: "POST",
      headers: { "x-api-key": apiKey, "content-type": "application/json" },
      body: JSON.stringify({ cmd: "sleep 600", background: true, tag: "sleeper" }),
    });
    expect(started.status).toBe(200);
    const { pid } = (await started.json()) as { pid: number };
    await byTestId(`process-kill-${pid}`).waitFor({ timeout: 30_000 });
    await shoot(page, "09-processes");
    await byTestId(`process-kill-${pid}`).click();
    await byTestId(`process-kill-${pid}`).waitFor({ state: "detached", timeout: 30_000 });
    await byTestId("tab-metrics").click();
    await byTestId("chart-cpu").waitFor();
    // Switching the range keeps the charts on screen while the new range loads: no spinner flash.
    await page.evaluate(`(() => {
      window.chartGone = false;
      new MutationObserver(() => {
        if (!document.querySelector('[data-testid="chart-cpu"]')) window.chartGone = true;
      }).observe(document.body, { childList: true, subtree: true });
    })()`);
    await byTestId("metrics-range-10m").click();
    await page.waitForURL(/range=10m/);
    await until(
      "10m samples drawn",
      async () => Number(await byTestId("chart-cpu").getAttribute("data-points")) > 0,
    );
    expect(await page.evaluate("window.chartGone")).toBe(false);
    await shoot(page, "10-metrics");
  });

  it("pauses and resumes the capsule from the list", async () => {
    await byTestId("nav-capsules").click();
    await byTestId(`capsule-row-${sandboxId}`).getByTestId("capsule-pause").click();
    await rowState(sandboxId, "paused");
    await shoot(page, "11-capsule-paused");
    await byTestId(`capsule-row-${sandboxId}`).getByTestId("capsule-resume").click();
    await rowState(sandboxId, "running");
  });

  it("snapshots it and starts a new capsule from the snapshot", async () => {
    await page.goto(`/capsules/${sandboxId}`);
    await byTestId("detail-snapshot").click();
    await byTestId("snapshot-name").fill(snapshotName);
    await byTestId("snapshot-submit").click();
    await page.getByText(`Snapshot ${snapshotName} saved`).waitFor({ timeout: 180_000 });
    await byTestId("nav-templates").click();
    await byTestId("page-templates").waitFor();
    await page.getByRole("cell", { name: snapshotName }).first().waitFor();
    await shoot(page, "12-templates");
    await byTestId("nav-capsules").click();
    await byTestId("create-capsule").click();
    await byTestId("create-template").selectOption(snapshotName);
    await expect(byTestId("create-vcpus").isDisabled()).resolves.toBe(true);
    await byTestId("create-submit").click();
    const row = await until(
      "a capsule from the snapshot",
      async () => {
        for (const r of await page.locator('[data-testid^="capsule-row-sb-"]').all()) {
          if ((await r.textContent())?.includes(snapshotName)) return r;
        }
        return undefined;
      },
      180_000,
    );
    fromSnapshotId = ((await row.getAttribute("data-testid")) ?? "").replace("capsule-row-", "");
    expect(fromSnapshotId).not.toBe(sandboxId);
    await rowState(fromSnapshotId, "running");
    // The snapshot carried the first capsule's files.
    await page.goto(`/capsules/${fromSnapshotId}?tab=files`);
    await byTestId("file-row-blob.bin").waitFor({ timeout: 60_000 });
  });

  it("forks the capsule from its page and lands on the running fork, which has its files", async () => {
    await page.goto(`/capsules/${sandboxId}`);
    await byTestId("detail-fork").click();
    const forkId = await until(
      "the fork's page",
      async () => {
        const m = /\/capsules\/(sb-[0-9a-f-]+)/.exec(page.url());
        return m?.[1] && m[1] !== sandboxId ? m[1] : undefined;
      },
      180_000,
    );
    await page.locator('[data-testid="page-capsule"][data-state="running"]').waitFor({ timeout: 60_000 });
    await page.goto(`/capsules/${forkId}?tab=files`);
    await byTestId("file-row-blob.bin").waitFor({ timeout: 60_000 });
    // Deleted again, so the steps below see the capsules they expect.
    await byTestId("detail-delete").click();
    await byTestId("confirm-action").click();
    await page.waitForURL(/\/capsules(\?.*)?$/, { timeout: 60_000 });
  });

  it("draws the stats page's charts", async () => {
    await byTestId("nav-stats").click();
    await byTestId("page-stats").waitFor();
    await until(
      "stat cards",
      async () => (await byTestId("stat-running-value").textContent())?.trim() === "2",
      60_000,
    );
    for (const chart of ["chart-capsules", "chart-resources"]) {
      await until(
        `${chart} drawn`,
        async () => Number(await byTestId(chart).getAttribute("data-points")) > 0,
        60_000,
      );
    }
    await byTestId("stats-range-1h").click();
    await page.waitForURL(/range=1h/);
    await shoot(page, "13-stats");
  });

  it("works at a 390 px phone width", async () => {
    const phone = await newContext(browser, d.url, viewports.phone);
    const p = await phone.newPage();
    await p.goto("/login");
    await p.getByLabel("Email").fill(email);
    await p.getByLabel("Password").fill(PASSWORD);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByTestId("page-capsules").waitFor();
    // No horizontal scrolling at phone width; the sidebar opens from the menu button.
    expect(await p.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await shoot(p, "14-phone-capsules");
    await p.getByRole("button", { name: "Menu" }).click();
    await p.getByTestId("nav-stats").click();
    await p.getByTestId("page-stats").waitFor();
    await shoot(p, "15-phone-stats");
    await p.goto(`/capsules/${sandboxId}?tab=terminal`);
    const capsule = p.getByTestId("page-capsule");
    await capsule.waitFor();
    // By now the inactivity timeout may have paused it: resume from the page, as a user would.
    if ((await capsule.getAttribute("data-state")) === "paused") await p.getByTestId("detail-resume").click();
    try {
      await until(
        "phone terminal",
        async () => (await p.getByTestId("terminal-status").getAttribute("data-status")) === "connected",
        180_000,
      );
    } finally {
      await shoot(p, "16-phone-terminal");
    }
    await phone.close();
  });

  it("shows a platform admin the host in the admin hosts page", async () => {
    const admin = await newContext(browser, d.url);
    // The test kit's admin signed up through the API; its session is the same JWT the login form stores.
    await admin.addInitScript(`localStorage.setItem("wrenn.token", ${JSON.stringify(d.adminToken)})`);
    const p = await admin.newPage();
    await p.goto("/capsules");
    await p.getByTestId("admin-switch").click();
    await p.waitForURL(/\/admin\/hosts/);
    await p.getByTestId("page-admin-hosts").getByText(d.hostId).first().waitFor({ timeout: 30_000 });
    await shoot(p, "17-admin-hosts");
    for (const name of ["templates", "teams", "users"]) {
      await p.getByTestId(`nav-admin-${name}`).click();
      await p.getByTestId(`page-admin-${name}`).waitFor();
      await p.getByTestId(`admin-${name}-table`).waitFor({ timeout: 30_000 });
      await shoot(p, `17-admin-${name}`);
    }
    await admin.close();
  });

  it("a second team sees none of the first team's capsules, snapshots or keys", async () => {
    const other = await newContext(browser, d.url);
    const p = await other.newPage();
    await p.goto("/signup");
    await p.getByLabel("Name").fill("Other Team");
    await p.getByLabel("Email").fill(`other-${randomBytes(4).toString("hex")}@example.com`);
    await p.getByLabel("Password").fill(PASSWORD);
    await p.getByRole("button", { name: "Sign up" }).click();
    await p.getByTestId("page-capsules").waitFor();
    await p.getByTestId("capsules-table").waitFor();
    const list = await p.getByTestId("capsules-table").textContent();
    expect(list).not.toContain(sandboxId);
    expect(list).not.toContain(fromSnapshotId);
    await shoot(p, "18-other-team-capsules");
    // A direct link to the first team's capsule is a readable not-found, not its data.
    await p.goto(`/capsules/${sandboxId}`);
    await p.getByTestId("error-view").waitFor();
    expect(await p.getByTestId("page-capsule").textContent()).not.toContain("owner");
    await p.goto("/templates");
    await p.getByTestId("templates-table").waitFor();
    expect(await p.getByTestId("templates-table").textContent()).not.toContain(snapshotName);
    await p.goto("/api-keys");
    await p.getByTestId("api-keys-table").waitFor();
    expect(await p.getByTestId("api-keys-table").textContent()).not.toContain(keyName);
    await other.close();
  });

  it("shows the team and audit log pages", async () => {
    await byTestId("nav-team").click();
    await byTestId("members-table").waitFor();
    expect(await byTestId("members-table").textContent()).toContain(email);
    await shoot(page, "19-team");
    await byTestId("nav-audit").click();
    await byTestId("audit-table").waitFor();
    // The capsule created from the dialog is in the team's audit log.
    await byTestId("audit-table").getByText(sandboxId).first().waitFor({ timeout: 30_000 });
    await shoot(page, "20-audit");
  });

  it("logs out and a reload stays logged out", async () => {
    await byTestId("logout").click();
    await page.waitForURL(/\/login/);
    await page.reload();
    await page.goto("/capsules");
    await page.waitForURL(/\/login/);
  });
});
