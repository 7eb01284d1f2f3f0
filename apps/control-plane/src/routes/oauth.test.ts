import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A FAKE GitHub OAuth server on loopback. GitHub itself cannot be reached from
 * this machine (and must not be, from tests), so this stands in for its token,
 * /user and /user/emails endpoints, following GitHub's documented shapes.
 */
interface FakeUser {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}
const codes = new Map<string, FakeUser>();
const tokens = new Map<string, FakeUser>();
const hits: string[] = [];
let fake: Server;
let fakeUrl: string;

function startFakeGithub(): Promise<void> {
  fake = createServer((req, res) => {
    hits.push(`${req.method} ${req.url?.split("?")[0]}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && req.url === "/login/oauth/access_token") {
      let raw = "";
      req.on("data", (c: Buffer) => {
        raw += c.toString();
      });
      req.on("end", () => {
        const form = new URLSearchParams(raw);
        const user = codes.get(form.get("code") ?? "");
        if (form.get("client_id") !== "gh-client" || form.get("client_secret") !== "gh-secret" || !user) {
          return send(200, { error: "bad_verification_code" });
        }
        const token = `gho_${form.get("code")}`;
        tokens.set(token, user);
        send(200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
      });
      return;
    }
    const user = tokens.get(req.headers.authorization?.replace(/^Bearer /, "") ?? "");
    if (!user) return send(401, { message: "Bad credentials" });
    if (req.url === "/user")
      return send(200, { id: user.id, login: user.login, name: user.name, email: user.email });
    if (req.url === "/user/emails") return send(200, user.emails);
    send(404, { message: "Not Found" });
  });
  return new Promise((resolve) => {
    fake.listen(0, "127.0.0.1", () => {
      fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      resolve();
    });
  });
}

let t: TestApp;
beforeAll(async () => {
  await startFakeGithub();
  t = await createTestApp({
    env: {
      GITHUB_CLIENT_ID: "gh-client",
      GITHUB_CLIENT_SECRET: "gh-secret",
      GITHUB_AUTHORIZE_URL: `${fakeUrl}/login/oauth/authorize`,
      GITHUB_TOKEN_URL: `${fakeUrl}/login/oauth/access_token`,
      GITHUB_API_URL: fakeUrl,
      CP_PUBLIC_URL: "http://cp.wrenn.test",
      DASHBOARD_URL: "http://dash.wrenn.test",
    },
  });
});
afterAll(async () => {
  await t?.cleanup();
  await new Promise((r) => fake?.close(r));
});

/** Runs the browser's part: start → (provider approves with `code`) → callback. Returns the final redirect. */
async function signInWith(code: string, tamper?: { state?: string; cookie?: string }) {
  const start = await t.app.request("/v1/auth/oauth/github");
  expect(start.status).toBe(302);
  const location = new URL(start.headers.get("location") ?? "");
  const setCookie = start.headers.get("set-cookie") ?? "";
  const cookie = tamper?.cookie ?? setCookie.split(";")[0] ?? "";
  const state = tamper?.state ?? location.searchParams.get("state") ?? "";
  const cb = await t.app.request(
    `/v1/auth/oauth/github/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`,
    { headers: { cookie } },
  );
  expect(cb.status).toBe(302);
  return { start, location, setCookie, redirect: new URL(cb.headers.get("location") ?? "") };
}

function tokenOf(redirect: URL): string {
  expect(`${redirect.origin}${redirect.pathname}`).toBe("http://dash.wrenn.test/auth/callback");
  return decodeURIComponent(redirect.hash.replace(/^#token=/, ""));
}

describe("GitHub OAuth (against a fake GitHub)", () => {
  it("redirects to the provider with a signed, HttpOnly state cookie", async () => {
    codes.set("c0", { id: 1, login: "x", name: null, email: "x@gh.test", emails: [] });
    const { location, setCookie } = await signInWith("c0");
    expect(`${location.origin}${location.pathname}`).toBe(`${fakeUrl}/login/oauth/authorize`);
    expect(location.searchParams.get("client_id")).toBe("gh-client");
    expect(location.searchParams.get("redirect_uri")).toBe(
      "http://cp.wrenn.test/v1/auth/oauth/github/callback",
    );
    expect(location.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(setCookie).toMatch(/^wrenn_oauth_state=[^;]+\.[^;]+;/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
  });

  it("creates the user and team on first sign-in, using the emails endpoint when the profile has none", async () => {
    codes.set("c1", {
      id: 101,
      login: "octocat",
      name: "Octo Cat",
      email: null,
      emails: [
        { email: "old@gh.test", primary: false, verified: true },
        { email: "Octo@GH.test", primary: true, verified: true },
      ],
    });
    hits.length = 0;
    const { redirect } = await signInWith("c1");
    expect(hits).toEqual(["POST /login/oauth/access_token", "GET /user", "GET /user/emails"]);
    const me = await call(t.app, "GET", "/v1/me", { token: tokenOf(redirect) });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { email: "octo@gh.test", name: "Octo Cat" }, role: "owner" });
    expect(me.body.team.name).toBe("Octo Cat's team");
    // OAuth-only accounts have no password.
    const pw = await call(t.app, "POST", "/v1/auth/login", {
      body: { email: "octo@gh.test", password: "anything" },
    });
    expect(pw.status).toBe(401);

    codes.set("c1b", { ...(codes.get("c1") as FakeUser) });
    const again = await signInWith("c1b");
    const me2 = await call(t.app, "GET", "/v1/me", { token: tokenOf(again.redirect) });
    expect(me2.body.user.id).toBe(me.body.user.id);
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM oauth_providers WHERE provider_user_id = '101'",
    );
    expect(rows[0].n).toBe(1);
  });

  it("links to an existing account with the same email", async () => {
    const u = await signupUser(t.app);
    codes.set("c2", { id: 202, login: "linked", name: "L", email: u.user.email.toUpperCase(), emails: [] });
    const { redirect } = await signInWith("c2");
    const me = await call(t.app, "GET", "/v1/me", { token: tokenOf(redirect) });
    expect(me.body.user.id).toBe(u.user.id);
    expect(me.body.team.id).toBe(u.team.id);
  });

  it("treats a concurrent registration of the same identity as a login", async () => {
    const user: FakeUser = { id: 303, login: "racer", name: "Racer", email: "racer@gh.test", emails: [] };
    codes.set("r1", user);
    codes.set("r2", user);
    codes.set("r3", user);
    const results = await Promise.all([signInWith("r1"), signInWith("r2"), signInWith("r3")]);
    const ids = new Set<string>();
    for (const r of results) {
      const me = await call(t.app, "GET", "/v1/me", { token: tokenOf(r.redirect) });
      expect(me.status).toBe(200);
      ids.add(me.body.user.id);
    }
    expect(ids.size).toBe(1);
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM users WHERE email = 'racer@gh.test'",
    );
    expect(rows[0].n).toBe(1);
  });

  it("rejects a forged or missing state", async () => {
    codes.set("c3", { id: 404, login: "s", name: null, email: "s@gh.test", emails: [] });
    const wrongState = await signInWith("c3", { state: "attacker-state" });
    expect(wrongState.redirect.toString()).toBe("http://dash.wrenn.test/login?error=invalid_state");
    const noCookie = await signInWith("c3", { cookie: "" });
    expect(noCookie.redirect.searchParams.get("error")).toBe("invalid_state");
    const forgedCookie = await signInWith("c3", { cookie: "wrenn_oauth_state=abc.def" });
    expect(forgedCookie.redirect.searchParams.get("error")).toBe("invalid_state");
  });

  it("fails cleanly without a verified primary email or with a bad code", async () => {
    codes.set("c4", {
      id: 505,
      login: "nomail",
      name: null,
      email: null,
      emails: [{ email: "u@gh.test", primary: true, verified: false }],
    });
    const noEmail = await signInWith("c4");
    expect(noEmail.redirect.searchParams.get("error")).toBe("oauth_failed");
    const badCode = await signInWith("never-issued");
    expect(badCode.redirect.searchParams.get("error")).toBe("oauth_failed");
  });

  it("404s for a provider that is not configured", async () => {
    const res = await call(t.app, "GET", "/v1/auth/oauth/google");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: "not_found", message: "OAuth provider 'google' is not configured" });
  });
});
