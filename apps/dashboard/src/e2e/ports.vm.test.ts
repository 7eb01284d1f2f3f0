import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { apiCall } from "@wrenn/testing/api";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { wsEchoOnUpgrade } from "@wrenn/testing/guest-programs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, shoot, until } from "./browser.ts";

// Exposed port links in real Chromium against a real deployment (control plane serving the Vite
// build, host agent, a QEMU microVM running a web server on port 8000): a signed-in user clicks
// the port's link on the capsule page and the new tab shows the guest's page; the same address in
// a browser that never clicked is 401. The proxy domain is `localhost`, which Chromium resolves
// for every sub-domain, as `wrenn up` serves it.

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const PORT = 8000;

// The guest's app: a page that shows the Cookie header it was sent, a route that sets a cookie of
// its own, and a WebSocket echo (one short text frame at a time).
const SERVER = `
const http = require("http");
const crypto = require("crypto");
const s = http.createServer((req, res) => {
  if (req.url === "/set") { res.setHeader("set-cookie", "guest=1; Path=/"); res.end("set"); return; }
  res.setHeader("content-type", "text/html");
  const cookie = String(req.headers.cookie || "none").replace(/[<&]/g, "");
  res.end("<!doctype html><title>guest app</title><h1>hello from the guest</h1><pre id=cookie>" + cookie + "</pre>");
});
${wsEchoOnUpgrade("s")}
s.listen(${PORT});
`;

let d: TestDeployment;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let served = "";
let sandboxId = "";
let portAddress = "";
const ticketUrls: string[] = [];

async function exec(cmd: string, background = false): Promise<void> {
  const res = await apiCall(d, "POST", `/v1/sandboxes/${sandboxId}/exec`, { cmd, background });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

beforeAll(async () => {
  execFileSync(process.execPath, ["scripts/build.mjs", "dashboard"], { cwd: ROOT, stdio: "inherit" });
  served = await mkdtemp(join(tmpdir(), "wrenn-dashboard-ports-"));
  await cp(join(ROOT, "apps/dashboard/dist"), join(served, "dist"), { recursive: true });
  [d, browser] = await Promise.all([
    startTestDeployment({
      env: { WRENN_DASHBOARD_DIR: join(served, "dist"), WRENN_PROXY_DOMAIN: "localhost" },
    }),
    launchChromium(),
  ]);
  const created = await apiCall(d, "POST", "/v1/sandboxes", { timeout_sec: 0 });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  sandboxId = created.body.id;
  await exec(`cat > /tmp/srv.js <<'EOF'\n${SERVER}\nEOF`);
  await exec("exec node /tmp/srv.js", true);
  // Up once the proxy reaches it with the team's API key.
  await until(
    "the guest's web server",
    async () =>
      (
        await fetch(d.url, {
          headers: { "x-api-key": d.apiKey, "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": String(PORT) },
        })
      ).status === 200,
    60_000,
  );
  portAddress = `http://${PORT}-${sandboxId}.localhost:${new URL(d.url).port}/`;
  ctx = await newContext(browser, d.url);
  ctx.on("request", (r) => {
    if (r.url().includes("wrenn_port_ticket=")) ticketUrls.push(r.url());
  });
  page = await ctx.newPage();
  // Signed in as the deployment's user (the session the dashboard keeps in localStorage).
  await page.goto("/login");
  await page.evaluate(`localStorage.setItem("wrenn.token", ${JSON.stringify(d.token)})`);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await d?.close();
  if (served) await rm(served, { recursive: true, force: true });
});

describe("exposed port links in Chromium", () => {
  let tab: Page;

  it("a click on the port's link opens the guest's page in a new tab, signed in by a cookie", async () => {
    await page.goto(`/capsules/${sandboxId}`);
    await page.getByTestId("port-input").fill(String(PORT));
    await page.getByRole("button", { name: "Add link" }).click();
    const link = page.getByTestId(`port-link-${PORT}`);
    expect(await link.getAttribute("href")).toBe(portAddress);
    [tab] = await Promise.all([ctx.waitForEvent("page"), link.click()]);
    await tab.getByText("hello from the guest").waitFor({ timeout: 30_000 });
    // The ticket went to the port's host once and left the address bar (303 to the plain address).
    expect(tab.url()).toBe(portAddress);
    expect(ticketUrls).toHaveLength(1);
    expect(ticketUrls[0]).toMatch(
      new RegExp(`^${portAddress.replace(/[.?]/g, "\\$&")}\\?wrenn_port_ticket=wpt_`),
    );
    // The guest never sees the session cookie.
    expect(await tab.locator("#cookie").textContent()).toBe("none");
    const cookies = await ctx.cookies(portAddress);
    expect(cookies.map((c) => c.name)).toEqual(["wrenn_port_session"]);
    expect(cookies[0]).toMatchObject({
      httpOnly: true,
      sameSite: "Lax",
      domain: new URL(portAddress).hostname,
    });
    await shoot(tab, "ports-01-guest-page");
  });

  it("the tab's own requests and a WebSocket pass with the cookie; the guest's cookies still reach it", async () => {
    // Browser code, as text (this file is type-checked without the DOM library).
    const echoed = await tab.evaluate(`new Promise((resolve) => {
      const ws = new WebSocket("ws://" + location.host + "/ws");
      ws.onopen = () => ws.send("hi");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => resolve("error");
    })`);
    expect(echoed).toBe("echo:hi");
    await tab.goto(`${portAddress}set`);
    await tab.goto(portAddress);
    expect(await tab.locator("#cookie").textContent()).toBe("guest=1");
  });

  it("the same address in a browser that never clicked is 401, and so is the used ticket link", async () => {
    const fresh = await newContext(browser, d.url);
    try {
      const p = await fresh.newPage();
      const plain = await p.goto(portAddress);
      expect(plain?.status()).toBe(401);
      expect(await p.textContent("body")).toMatch(/X-API-Key/);
      const reused = await p.goto(ticketUrls[0] ?? "");
      expect(reused?.status()).toBe(401);
      expect(await p.textContent("body")).toMatch(/already used/);
      await shoot(p, "ports-02-no-cookie-401");
      // The first browser's cookie, copied to another port of the sandbox, is refused.
      const [session] = await ctx.cookies(portAddress);
      const other = `http://${PORT + 1}-${sandboxId}.localhost:${new URL(d.url).port}/`;
      await fresh.addCookies([{ name: "wrenn_port_session", value: session?.value ?? "", url: other }]);
      const moved = await p.goto(other);
      expect(moved?.status()).toBe(401);
      expect(await p.textContent("body")).toMatch(/another sandbox port/);
    } finally {
      await fresh.close();
    }
  });

  it("another team gets no ticket for the sandbox", async () => {
    const other = await d.newTeam("Other");
    const res = await fetch(`${d.url}/v1/port-tickets`, {
      method: "POST",
      headers: { authorization: `Bearer ${other.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sandbox_id: sandboxId, port: PORT }),
    });
    expect(res.status).toBe(404);
    // Nor does its API key reach the port through the proxy.
    const viaKey = await fetch(d.url, {
      headers: { "x-api-key": other.apiKey, "e2b-sandbox-id": sandboxId, "e2b-sandbox-port": String(PORT) },
    });
    expect(viaKey.status).toBe(404);
  });
});
