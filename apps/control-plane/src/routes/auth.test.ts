import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionTokens } from "../auth/jwt.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.cleanup();
});

describe("POST /v1/auth/signup", () => {
  it("creates the user and a default team in one go and answers {token, user, team}", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: "Ada", email: "Ada@Example.com", password: "correct horse battery" },
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email: "ada@example.com", name: "Ada", is_admin: false });
    expect(res.body.user.id).toMatch(/^usr-[0-9a-f-]{36}$/);
    expect(res.body.team.id).toMatch(/^team-[0-9a-f-]{36}$/);
    expect(res.body.team).toMatchObject({ name: "Ada's team", role: "owner", is_byoc: false });
    expect(res.body.team.slug).toMatch(/^[0-9a-f]{6}-[0-9a-f]{6}$/);
    expect(res.body.token.split(".")).toHaveLength(3);
    const me = await call(t.app, "GET", "/v1/me", { token: res.body.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      user: { email: "ada@example.com" },
      role: "owner",
      auth: { type: "jwt" },
    });
  });

  it("rejects a second account with the same email in any case (409)", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: "Other", email: "ADA@example.COM", password: "another password" },
    });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      code: "already_exists",
      message: "an account with this email already exists",
    });
  });
});

describe("POST /v1/auth/login", () => {
  it("signs in with the right password", async () => {
    const u = await signupUser(t.app);
    const res = await call(t.app, "POST", "/v1/auth/login", {
      body: { email: u.user.email.toUpperCase(), password: u.password },
    });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(u.user.id);
    expect(res.body.team.id).toBe(u.team.id);
  });

  it("answers the same 401 for a wrong password and an unknown email", async () => {
    const u = await signupUser(t.app);
    const wrong = await call(t.app, "POST", "/v1/auth/login", {
      body: { email: u.user.email, password: "nope" },
    });
    const unknown = await call(t.app, "POST", "/v1/auth/login", {
      body: { email: "nobody@example.com", password: "nope" },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual({ code: "unauthenticated", message: "invalid email or password" });
    expect(unknown.body).toEqual(wrong.body);
  });

  it("falls back to the first active team when the default team is gone", async () => {
    const u = await signupUser(t.app);
    const second = await call(t.app, "POST", "/v1/teams", { token: u.token, body: { name: "Second" } });
    expect(second.status).toBe(201);
    expect((await call(t.app, "DELETE", `/v1/teams/${u.team.id}`, { token: u.token })).status).toBe(204);
    const res = await call(t.app, "POST", "/v1/auth/login", {
      body: { email: u.user.email, password: u.password },
    });
    expect(res.status).toBe(200);
    expect(res.body.team).toMatchObject({ id: second.body.id, name: "Second", role: "owner" });
  });
});

describe("JWT sessions", () => {
  it("rejects a tampered token", async () => {
    const u = await signupUser(t.app);
    const [h, p, s] = u.token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    claims.is_admin = true;
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
    const res = await call(t.app, "GET", "/v1/me", { token: forged });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: "unauthenticated", message: "invalid token" });
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith("A") ? "B" : "A"}A`;
    expect((await call(t.app, "GET", "/v1/me", { token: flipped })).status).toBe(401);
  });

  it("rejects an expired token, a token signed with another secret, and alg=none", async () => {
    const u = await signupUser(t.app);
    const claims = {
      sub: u.user.id.slice(4),
      team: u.team.id.slice(5),
      role: "owner" as const,
      is_admin: false,
      name: "x",
      email: u.user.email,
    };
    const expired = await new SessionTokens(t.config.jwtSecret, 60).sign(claims, Date.now() - 3600_000);
    const res = await call(t.app, "GET", "/v1/me", { token: expired });
    expect(res.status).toBe(401);
    expect(res.body.message).toBe("session expired");
    const foreign = await new SessionTokens("x".repeat(40), 60).sign(claims);
    expect((await call(t.app, "GET", "/v1/me", { token: foreign })).status).toBe(401);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ ...claims, typ: "user", exp: Math.floor(Date.now() / 1000) + 60 }),
    ).toString("base64url")}.`;
    expect((await call(t.app, "GET", "/v1/me", { token: none })).status).toBe(401);
    const valid = await new SessionTokens(t.config.jwtSecret, 60).sign(claims);
    expect((await call(t.app, "GET", "/v1/me", { token: valid })).status).toBe(200);
  });

  it("requires credentials", async () => {
    const res = await call(t.app, "GET", "/v1/me");
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ code: "unauthenticated", message: "authentication required" });
  });
});

describe("POST /v1/auth/switch-team", () => {
  it("re-issues the token for a team the user belongs to, and 404s for others", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    const team2 = await call(t.app, "POST", "/v1/teams", { token: a.token, body: { name: "Two" } });
    const sw = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: a.token,
      body: { team_id: team2.body.id },
    });
    expect(sw.status).toBe(200);
    expect(sw.body.team).toMatchObject({ id: team2.body.id, role: "owner" });
    const me = await call(t.app, "GET", "/v1/me", { token: sw.body.token });
    expect(me.body.team.id).toBe(team2.body.id);
    const other = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: a.token,
      body: { team_id: b.team.id },
    });
    expect(other.status).toBe(404);
    expect(other.body.code).toBe("not_found");
    const bad = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: a.token,
      body: { team_id: "nope" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/team_id/);
  });
});

describe("request validation (never a 500 for a user's mistake)", () => {
  it("malformed JSON → 400", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", { body: '{"name": "x", ' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toMatch(/json/i);
  });

  it("wrong types → 400 naming the field", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: 42, email: "a@b.co", password: "long enough" },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toMatch(/^name: /);
  });

  it("unknown fields → 400 naming the field", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: "x", email: "a@b.co", password: "long enough", is_admin: true },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/is_admin/);
  });

  it("a bad email and a short password → 400", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: "x", email: "not-an-email", password: "short" },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/email/);
    expect(res.body.message).toMatch(/password/);
  });

  it("a body that is not JSON at all (wrong content type) → 400", async () => {
    const res = await call(t.app, "POST", "/v1/auth/login", {
      body: "email=a@b.co",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      code: "invalid_argument",
      message: "request body must be JSON (Content-Type: application/json)",
    });
  });

  it("a JSON array or null instead of an object → 400", async () => {
    for (const body of ["[]", "null"]) {
      const res = await call(t.app, "POST", "/v1/auth/login", { body });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^body: .*expected object/);
    }
  });

  it("an oversized body → 413 with a clear message", async () => {
    const res = await call(t.app, "POST", "/v1/auth/signup", {
      body: { name: "x".repeat(2 * 1024 * 1024), email: "a@b.co", password: "long enough" },
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: "invalid_argument", message: "request body exceeds 1048576 bytes" });
  });

  it("an unknown route → 404 with the error body", async () => {
    const res = await call(t.app, "GET", "/v1/nope");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: "not_found", message: "no route for GET /v1/nope" });
  });
});

describe("rate limiting", () => {
  it("throttles failed logins per account+address with backoff and Retry-After; successes never count", async () => {
    const limited = await createTestApp({
      env: {
        AUTH_RATE_LIMIT_PER_ACCOUNT: "3",
        AUTH_RATE_LIMIT_PER_IP: "6",
        // A day-long fixed window, so the test never straddles a window boundary.
        AUTH_RATE_LIMIT_WINDOW_SEC: "86400",
        TRUST_PROXY: "true",
      },
    });
    try {
      const u = await signupUser(limited.app);
      const attempt = (email: string, ip: string, password = u.password) =>
        call(limited.app, "POST", "/v1/auth/login", {
          body: { email, password },
          headers: { "x-forwarded-for": ip },
        });
      // Successful logins are never limited, from one address or many.
      for (let i = 0; i < 8; i++) expect((await attempt(u.user.email, "10.0.0.1")).status).toBe(200);
      // An attacker guessing from one address: 3 free failures, then a wait with Retry-After.
      for (let i = 0; i < 4; i++)
        expect((await attempt(u.user.email, "10.6.6.6", "wrong guess")).status).toBe(401);
      const blocked = await attempt(u.user.email, "10.6.6.6", "wrong guess");
      expect(blocked.status).toBe(429);
      expect(blocked.body.code).toBe("resource_exhausted");
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(blocked.body.retry_after_sec).toBe(Number(blocked.headers.get("retry-after")));
      // The owner, from their own address, is not locked out by the attacker.
      expect((await attempt(u.user.email, "10.0.0.1")).status).toBe(200);
      // Behind the proxy, the client's address is the last X-Forwarded-For entry: a forged first one changes nothing.
      expect((await attempt(u.user.email, "1.2.3.4, 10.6.6.6", "wrong guess")).status).toBe(429);
      // Per address: one address trying many accounts spends the address's failure budget.
      const regular = await signupUser(limited.app);
      const asRegular = () => attempt(regular.user.email, "10.9.9.9", regular.password);
      expect((await asRegular()).status).toBe(200); // has signed in from there before
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await attempt(`x${i}@example.com`, "10.9.9.9")).status);
      expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
      expect(statuses[6]).toBe(429);
      // A spent budget spares accounts known at that address (a shared proxy's regular users) ...
      expect((await asRegular()).status).toBe(200);
      // ... but not one that never signed in from there, even with the right password.
      const sprayed = await attempt(u.user.email, "10.9.9.9");
      expect(sprayed.status).toBe(429);
      expect(Number(sprayed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.cleanup();
    }
  });

  it("limits signup per IP", async () => {
    const limited = await createTestApp({
      env: { AUTH_RATE_LIMIT_PER_IP: "2", AUTH_RATE_LIMIT_WINDOW_SEC: "86400", TRUST_PROXY: "true" },
    });
    try {
      const signup = (i: number) =>
        call(limited.app, "POST", "/v1/auth/signup", {
          body: { name: "n", email: `s${i}@example.com`, password: "long enough" },
          headers: { "x-forwarded-for": "10.1.1.1" },
        });
      expect((await signup(1)).status).toBe(201);
      expect((await signup(2)).status).toBe(201);
      expect((await signup(3)).status).toBe(429);
    } finally {
      await limited.cleanup();
    }
  });
});
