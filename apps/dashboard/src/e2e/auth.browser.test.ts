import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, shoot, until } from "./browser.ts";

// Browser sign-in paths the capsule journey does not take: GitHub OAuth through the control
// plane's real routes and the dashboard's /auth/callback page, a cancelled GitHub sign-in, a
// callback without a token, and a session revoked on the server (the next request's 401 sends
// the page to the login form). Real control plane (PostgreSQL, Redis) serving the Vite build;
// the only stand-in is GitHub itself, which tests must not reach: a loopback server that answers
// its authorize, token, /user and /user/emails endpoints in GitHub's documented shapes.

const ROOT = fileURLToPath(new URL("../../../..", import.meta.url));

interface GithubUser {
  id: number;
  login: string;
  name: string;
  email: string;
}

/** What the stand-in's authorize page does with the next visit: approve as a user, or deny. */
let nextAuthorize: { approve: GithubUser } | { deny: true } = { deny: true };
const issued = new Map<string, GithubUser>();

let t: TestApp;
let server: ReturnType<typeof serve>;
let github: Server;
let githubUrl = "";
let base = "";
let served = "";
let browser: Browser;

function startGithub(): Promise<void> {
  github = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://github.invalid");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/login/oauth/authorize") {
      // GitHub's consent screen, already answered: back to redirect_uri with a code or an error.
      const back = new URL(url.searchParams.get("redirect_uri") ?? "");
      back.searchParams.set("state", url.searchParams.get("state") ?? "");
      if ("approve" in nextAuthorize) {
        const code = `code-${issued.size}`;
        issued.set(code, nextAuthorize.approve);
        back.searchParams.set("code", code);
      } else back.searchParams.set("error", "access_denied");
      res.writeHead(302, { location: back.toString() });
      res.end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
      let raw = "";
      req.on("data", (c: Buffer) => {
        raw += c.toString();
      });
      req.on("end", () => {
        const code = new URLSearchParams(raw).get("code") ?? "";
        if (!issued.has(code)) return json(200, { error: "bad_verification_code" });
        json(200, { access_token: `gho_${code}`, token_type: "bearer", scope: "read:user,user:email" });
      });
      return;
    }
    const user = issued.get(req.headers.authorization?.replace(/^Bearer gho_/, "") ?? "");
    if (!user) return json(401, { message: "Bad credentials" });
    if (url.pathname === "/user")
      return json(200, { id: user.id, login: user.login, name: user.name, email: null });
    if (url.pathname === "/user/emails")
      return json(200, [{ email: user.email, primary: true, verified: true }]);
    json(404, { message: "Not Found" });
  });
  return new Promise((resolve) => {
    github.listen(0, "127.0.0.1", () => {
      githubUrl = `http://127.0.0.1:${(github.address() as AddressInfo).port}`;
      resolve();
    });
  });
}

beforeAll(async () => {
  // Build the current sources, then serve a copy (no sources beside it, so no stale check races an edit).
  execFileSync(process.execPath, ["scripts/build.mjs", "dashboard"], { cwd: ROOT, stdio: "inherit" });
  served = await mkdtemp(join(tmpdir(), "wrenn-dashboard-auth-"));
  await cp(join(ROOT, "apps/dashboard/dist"), join(served, "dist"), { recursive: true });
  await startGithub();
  // The listener comes first: OAuth needs the control plane's public URL in its configuration.
  server = serve({ fetch: (req, env) => t.app.fetch(req, env), port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((r) => server.once("listening", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [t, browser] = await Promise.all([
    createTestApp({
      env: {
        WRENN_DASHBOARD_DIR: join(served, "dist"),
        GITHUB_CLIENT_ID: "gh-client",
        GITHUB_CLIENT_SECRET: "gh-secret",
        GITHUB_AUTHORIZE_URL: `${githubUrl}/login/oauth/authorize`,
        GITHUB_TOKEN_URL: `${githubUrl}/login/oauth/access_token`,
        GITHUB_API_URL: githubUrl,
        CP_PUBLIC_URL: base,
      },
    }),
    launchChromium(),
  ]);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await new Promise<void>((r) => (github ? github.close(() => r()) : r()));
  await t?.cleanup();
  if (served) await rm(served, { recursive: true, force: true });
});

/** The JWT the dashboard keeps for this page's origin. */
const storedToken = (page: Page) => page.evaluate<string | null>(`localStorage.getItem("wrenn.token")`);

describe("browser sign-in in Chromium", { timeout: 120_000 }, () => {
  it("signs in with GitHub: the callback page stores the session, clears the token from the URL, and a reload keeps it", async () => {
    nextAuthorize = {
      approve: { id: 4242, login: "octo", name: "Octo Browser", email: "octo-browser@gh.test" },
    };
    const ctx = await newContext(browser, base);
    const page = await ctx.newPage();
    const visited: string[] = [];
    page.on("request", (r) => {
      if (r.isNavigationRequest()) visited.push(r.url());
    });
    await page.goto("/login");
    await page.getByTestId("github-login").click();
    await page
      .getByTestId("page-capsules")
      .waitFor()
      .catch(async (err) => {
        await shoot(page, "auth-failed-github");
        throw new Error(`${String(err)} at ${page.url()}: ${await page.locator("body").innerText()}`);
      });
    expect(await page.getByTestId("user-name").textContent()).toBe("Octo Browser");
    // The way in went through GitHub and the dashboard's callback page…
    expect(visited.some((u) => u.startsWith(`${githubUrl}/login/oauth/authorize`))).toBe(true);
    expect(visited.some((u) => u.startsWith(`${base}/auth/callback`))).toBe(true);
    // …and the token is neither in the address bar nor in history entries the page can reach.
    expect(page.url()).toBe(`${base}/capsules`);
    expect(page.url()).not.toContain("token");
    const token = await storedToken(page);
    expect(token).toBeTruthy();
    const me = await call(t.app, "GET", "/v1/me", { token: token ?? "" });
    expect(me.body.user).toMatchObject({ email: "octo-browser@gh.test", name: "Octo Browser" });
    await page.reload();
    await page.getByTestId("page-capsules").waitFor();
    expect(await page.getByTestId("user-name").textContent()).toBe("Octo Browser");
    await shoot(page, "auth-01-github-signed-in");
    // Back goes to the page before the sign-in, not to a callback URL holding the token.
    const back = await page.goBack();
    expect(back?.url()).toBe(`${base}/login`);
    expect(page.url()).not.toContain("token");
    await ctx.close();
  });

  it("a cancelled GitHub sign-in comes back to the login form with a sentence", async () => {
    nextAuthorize = { deny: true };
    const ctx = await newContext(browser, base);
    const page = await ctx.newPage();
    await page.goto("/login");
    await page.getByTestId("github-login").click();
    await page.waitForURL(/\/login\?error=access_denied/);
    expect(await page.getByTestId("auth-error").textContent()).toBe("GitHub sign-in was cancelled.");
    expect(await storedToken(page)).toBeNull();
    await shoot(page, "auth-02-github-cancelled");
    await ctx.close();
  });

  it("a callback that carries no token says so and signs nobody in", async () => {
    const ctx = await newContext(browser, base);
    const page = await ctx.newPage();
    await page.goto("/auth/callback");
    await page.getByRole("heading", { name: "Sign-in failed" }).waitFor();
    await page.getByRole("link", { name: "Back to sign in" }).click();
    await page.getByTestId("login-form").waitFor();
    expect(await storedToken(page)).toBeNull();
    await ctx.close();
  });

  it("a session ended on the server sends the page to the login form, which brings the user back", async () => {
    const user = await signupUser(t.app, "Sam Session");
    const ctx = await newContext(browser, base);
    await ctx.addInitScript(
      `if (!sessionStorage.getItem("seeded")) { sessionStorage.setItem("seeded", "1"); localStorage.setItem("wrenn.token", ${JSON.stringify(user.token)}); }`,
    );
    const page = await ctx.newPage();
    await page.goto("/api-keys");
    await page.getByTestId("page-api-keys").waitFor();
    expect(await page.getByTestId("user-name").textContent()).toBe("Sam Session");
    // Signed out elsewhere (another tab, `wrenn logout`): this JWT no longer works.
    expect((await call(t.app, "POST", "/v1/auth/logout", { token: user.token })).status).toBe(204);
    await page.getByTestId("nav-team").click();
    await page.waitForURL(/\/login\?redirect=/);
    await until("the stale token dropped", async () => (await storedToken(page)) === null);
    await page.getByLabel("Email").fill(user.user.email);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("page-team").waitFor();
    await ctx.close();
  });
});
