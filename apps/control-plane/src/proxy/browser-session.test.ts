import { createHash } from "node:crypto";
import {
  call,
  createTestApp,
  insertOnlineHost,
  insertSandbox,
  signupUser,
  type TestApp,
} from "@wrenn/testing/app";
import { pollUntil } from "@wrenn/testing/poll";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProxyAddress } from "./address.ts";
import {
  PORT_SESSION_COOKIE,
  PortSessionSigner,
  portSessionCacheKey,
  readCookie,
  sessionCookie,
  stripCookie,
  ticketOf,
  withoutTicket,
} from "./browser-session.ts";
import { forwardedHeaders } from "./forward.ts";

// Browser access to sandbox ports: the signer and header helpers alone, then the whole decision
// path through the real app (real PostgreSQL and Redis) with app.request(). Forwarding itself
// needs a Node socket; a request the proxy lets through is answered 503 "served only by the
// control plane's HTTP server" here, which is how these tests tell "passed" from "refused".
const DOMAIN = "sbx.wrenn.test";
const address = (sandboxId: string, port = 3000): ProxyAddress => ({
  sandboxId,
  wireId: `sb-${sandboxId}`,
  port,
});

describe("PortSessionSigner", () => {
  const signer = new PortSessionSigner("secret-a");
  const session = { userId: "u1", teamId: "t1", sandboxId: "s1", port: 3000, sessionVersion: 0, exp: 2_000 };

  it("verifies its own token for the same sandbox and port before expiry", () => {
    expect(signer.verify(signer.sign(session), address("s1"), 1_000)).toEqual(session);
  });

  it("refuses another port or sandbox, expiry, a forged or tampered token, another secret", () => {
    const token = signer.sign(session);
    const refused =
      (t: string, a = address("s1"), now = 1_000) =>
      () =>
        signer.verify(t, a, now);
    expect(refused(token, address("s1", 3001))).toThrow(/another sandbox port/);
    expect(refused(token, address("s2"))).toThrow(/another sandbox port/);
    expect(refused(token, address("s1"), 2_000)).toThrow(/expired/);
    expect(refused(token.replace("t1", "t2"))).toThrow(/invalid/);
    expect(refused(token.replace(".3000.", ".3001."), address("s1", 3001))).toThrow(/invalid/);
    expect(refused(new PortSessionSigner("secret-b").sign(session))).toThrow(/invalid/);
    expect(refused("u1.t1.s1.3000.0.2000.")).toThrow(/invalid/);
    expect(refused(token.replace(".0.2000.", ".1.2000."))).toThrow(/invalid/);
    expect(refused("garbage")).toThrow(/invalid/);
  });
});

describe("cookie and URL helpers", () => {
  it("reads and strips the session cookie, keeping the guest's own cookies", () => {
    const h = `a=1; ${PORT_SESSION_COOKIE}=tok; b=2`;
    expect(readCookie(h, PORT_SESSION_COOKIE)).toBe("tok");
    expect(readCookie("a=1", PORT_SESSION_COOKIE)).toBeUndefined();
    expect(stripCookie(h, PORT_SESSION_COOKIE)).toBe("a=1; b=2");
    expect(stripCookie(`${PORT_SESSION_COOKIE}=tok`, PORT_SESSION_COOKIE)).toBeUndefined();
  });

  it("never forwards the session cookie to the guest", () => {
    const a = address("s1");
    expect(forwardedHeaders({ cookie: `x=1; ${PORT_SESSION_COOKIE}=tok` }, a, undefined).cookie).toBe("x=1");
    expect(forwardedHeaders({ cookie: `${PORT_SESSION_COOKIE}=tok` }, a, undefined)).not.toHaveProperty(
      "cookie",
    );
    expect(forwardedHeaders({ cookie: "x=1" }, a, undefined).cookie).toBe("x=1");
  });

  it("finds the ticket and drops only it from the URL", () => {
    expect(ticketOf("/a?x=1&wrenn_port_ticket=wpt_abc")).toBe("wpt_abc");
    expect(ticketOf("/a?x=1")).toBeUndefined();
    expect(withoutTicket("/a/b?wrenn_port_ticket=wpt_abc")).toBe("/a/b");
    expect(withoutTicket("/a?q=a+b%20c&wrenn_port_ticket=wpt_abc&z=")).toBe("/a?q=a+b%20c&z=");
  });

  it("sets an HttpOnly, SameSite=Lax, host-only cookie, Secure only over TLS", () => {
    const plain = sessionCookie("tok", false);
    expect(plain).toMatch(/^wrenn_port_session=tok; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    expect(plain).not.toMatch(/Domain=/i);
    expect(sessionCookie("tok", true)).toMatch(/; Secure$/);
  });
});

describe("port proxy: browser tickets and session cookies", () => {
  let t: TestApp;
  let user: Awaited<ReturnType<typeof signupUser>>;
  let other: Awaited<ReturnType<typeof signupUser>>;
  let sandboxId: string;
  let otherSandboxId: string;

  const host = (id: string, port = 3000) => `${port}-sb-${id}.${DOMAIN}`;
  const ticket = async (id: string, port = 3000, token = user.token) =>
    call(t.app, "POST", "/v1/port-tickets", { token, body: { sandbox_id: `sb-${id}`, port } });
  const open = (h: string, path: string, cookie?: string) =>
    t.app.request(path, { headers: { host: h, ...(cookie ? { cookie } : {}) } });
  /** Trades a fresh ticket for the session cookie of `id`'s port 3000. */
  const signIn = async (id = sandboxId) => {
    const tk = (await ticket(id)).body.ticket as string;
    const res = await open(host(id), `/app?x=1&wrenn_port_ticket=${tk}`);
    expect(res.status).toBe(303);
    return (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  };

  beforeAll(async () => {
    t = await createTestApp({ env: { WRENN_PROXY_DOMAIN: DOMAIN } });
    user = await signupUser(t.app);
    other = await signupUser(t.app, "Other");
    const hostId = await insertOnlineHost(t);
    const team = (u: typeof user) => u.team.id.slice("team-".length);
    sandboxId = await insertSandbox(t, { teamId: team(user), hostId, state: "running" });
    otherSandboxId = await insertSandbox(t, { teamId: team(other), hostId, state: "running" });
  });

  afterAll(async () => {
    await t?.cleanup();
  });

  it("issues tickets to signed-in members only, for their team's sandboxes", async () => {
    const res = await ticket(sandboxId);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ticket: expect.stringMatching(/^wpt_/), param: "wrenn_port_ticket" });
    expect(Date.parse(res.body.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
    expect((await ticket(otherSandboxId)).status).toBe(404);
    expect((await ticket(sandboxId, 0)).status).toBe(400);
    expect((await ticket(sandboxId, 70_000)).status).toBe(400);
    const noAuth = await call(t.app, "POST", "/v1/port-tickets", {
      body: { sandbox_id: `sb-${sandboxId}`, port: 3000 },
    });
    expect(noAuth.status).toBe(401);
    const key = (await call(t.app, "POST", "/v1/api-keys", { token: user.token, body: { name: "k" } })).body
      .key;
    const byKey = await call(t.app, "POST", "/v1/port-tickets", {
      apiKey: key,
      body: { sandbox_id: `sb-${sandboxId}`, port: 3000 },
    });
    expect(byKey.status).toBe(401);
  });

  it("trades a ticket for a host-only session cookie and a 303 to the URL without the ticket", async () => {
    const tk = (await ticket(sandboxId)).body.ticket as string;
    const res = await open(host(sandboxId), `/app/page?x=1&wrenn_port_ticket=${tk}&y=2`);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/app/page?x=1&y=2");
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^wrenn_port_session=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // Used once: the same link again is refused.
    const again = await open(host(sandboxId), `/app/page?wrenn_port_ticket=${tk}`);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { message: string }).message).toMatch(/already used/);
  });

  it("marks the cookie Secure behind a TLS proxy only when the proxy is trusted", async () => {
    const viaTls = async (app: TestApp) => {
      const u = await signupUser(app.app);
      const h = await insertOnlineHost(app, "127.0.0.1:7002");
      const id = await insertSandbox(app, { teamId: u.team.id.slice(5), hostId: h, state: "running" });
      const tk = (
        await call(app.app, "POST", "/v1/port-tickets", {
          token: u.token,
          body: { sandbox_id: `sb-${id}`, port: 3000 },
        })
      ).body.ticket as string;
      const res = await app.app.request(`/?wrenn_port_ticket=${tk}`, {
        headers: { host: host(id), "x-forwarded-proto": "https" },
      });
      expect(res.status).toBe(303);
      return res.headers.get("set-cookie") ?? "";
    };
    expect(await viaTls(t)).not.toMatch(/Secure/);
    const trusted = await createTestApp({ env: { WRENN_PROXY_DOMAIN: DOMAIN, TRUST_PROXY: "true" } });
    try {
      expect(await viaTls(trusted)).toMatch(/; Secure$/);
    } finally {
      await trusted.cleanup();
    }
  });

  it("lets the cookie through for its own sandbox port only", async () => {
    const cookie = await signIn();
    // Authorized: only the missing Node socket of app.request() stops it.
    const ok = await open(host(sandboxId), "/anything", cookie);
    expect(ok.status).toBe(503);
    expect(((await ok.json()) as { message: string }).message).toMatch(
      /only by the control plane's HTTP server/,
    );
    const otherPort = await open(host(sandboxId, 3001), "/", cookie);
    expect(otherPort.status).toBe(401);
    expect(((await otherPort.json()) as { message: string }).message).toMatch(/another sandbox port/);
    expect((await open(host(otherSandboxId), "/", cookie)).status).toBe(401);
    // No cookie at all: the old answer.
    expect((await open(host(sandboxId), "/")).status).toBe(401);
  });

  it("refuses a ticket of another sandbox or port (and spends it), and a made-up one", async () => {
    const tk = (await ticket(sandboxId)).body.ticket as string;
    const wrongPort = await open(host(sandboxId, 3001), `/?wrenn_port_ticket=${tk}`);
    expect(wrongPort.status).toBe(401);
    expect(((await wrongPort.json()) as { message: string }).message).toMatch(/another sandbox port/);
    expect((await open(host(sandboxId), `/?wrenn_port_ticket=${tk}`)).status).toBe(401);
    const tk2 = (await ticket(sandboxId)).body.ticket as string;
    expect((await open(host(otherSandboxId), `/?wrenn_port_ticket=${tk2}`)).status).toBe(401);
    expect((await open(host(sandboxId), "/?wrenn_port_ticket=wpt_madeup")).status).toBe(401);
    expect((await open(host(sandboxId), "/?wrenn_port_ticket=")).status).toBe(401);
  });

  it("keeps a ticket at most 30 s and refuses it once Redis has expired it", async () => {
    const tk = (await ticket(sandboxId)).body.ticket as string;
    const key = `port-ticket:${createHash("sha256").update(tk).digest("hex")}`;
    const ttl = await t.redis.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    await t.redis.redis.pexpire(key, 1);
    await pollUntil(
      "the ticket to expire",
      () => t.redis.redis.exists(key),
      (n) => n === 0,
      5_000,
    );
    const res = await open(host(sandboxId), `/?wrenn_port_ticket=${tk}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/invalid, expired or already used/);
  });

  it("refuses a forged cookie and a cookie signed with another secret", async () => {
    const cookie = await signIn();
    const forged = cookie.replace(user.team.id.slice(5), other.team.id.slice(5));
    const res = await open(host(sandboxId), "/", forged);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/cookie is invalid/);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const userId = user.user.id.replace(/^usr-/, "");
    const foreign = new PortSessionSigner("not-the-secret").sign({
      userId,
      teamId: other.team.id.slice(5),
      sandboxId: otherSandboxId,
      port: 3000,
      sessionVersion: 0,
      exp,
    });
    expect((await open(host(otherSandboxId), "/", `${PORT_SESSION_COOKIE}=${foreign}`)).status).toBe(401);
  });

  it("does not let a member of one team into another team's sandbox with a well-signed cookie", async () => {
    // A token signed with the real secret naming the other team's sandbox but the user's own team.
    const signer = new PortSessionSigner(t.config.jwtSecret);
    const session = await signIn();
    const [userId = ""] = session.slice(PORT_SESSION_COOKIE.length + 1).split(".");
    const token = signer.sign({
      userId,
      teamId: user.team.id.slice(5),
      sandboxId: otherSandboxId,
      port: 3000,
      sessionVersion: 0,
      exp: Math.floor(Date.now() / 1000) + 60,
    });
    const res = await open(host(otherSandboxId), "/", `${PORT_SESSION_COOKIE}=${token}`);
    expect(res.status).toBe(404);
  });

  it("stops a removed member's cookie (membership re-checked against the database)", async () => {
    const cookie = await signIn();
    expect((await open(host(sandboxId), "/", cookie)).status).toBe(503);
    const [userId = "", teamId = ""] = cookie.slice(PORT_SESSION_COOKIE.length + 1).split(".");
    await t.db.pool.query("DELETE FROM users_teams WHERE user_id = $1 AND team_id = $2", [userId, teamId]);
    // The ≤ 5 s cache, not waited out.
    await t.redis.redis.del(portSessionCacheKey({ userId, teamId, sessionVersion: 0 }));
    const res = await open(host(sandboxId), "/", cookie);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/no longer a member/);
  });

  it("stops the cookie when its user signs out (their session version is re-checked)", async () => {
    const member = await signupUser(t.app, "Leaving");
    const teamId = member.team.id.slice(5);
    const hostId = await insertOnlineHost(t, "127.0.0.1:7003");
    const id = await insertSandbox(t, { teamId, hostId, state: "running" });
    const tk = (await ticket(id, 3000, member.token)).body.ticket as string;
    const res = await open(host(id), `/?wrenn_port_ticket=${tk}`);
    expect(res.status).toBe(303);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect((await open(host(id), "/", cookie)).status).toBe(503);

    expect((await call(t.app, "POST", "/v1/auth/logout", { token: member.token })).status).toBe(204);
    const [userId = ""] = cookie.slice(PORT_SESSION_COOKIE.length + 1).split(".");
    // The ≤ 5 s cache, not waited out.
    await t.redis.redis.del(portSessionCacheKey({ userId, teamId, sessionVersion: 0 }));
    const after = await open(host(id), "/", cookie);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { message: string }).message).toMatch(/signed out/);
  });
});
