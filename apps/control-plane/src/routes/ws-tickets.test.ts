import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { WsTicketsService } from "../services/ws-tickets.ts";

// Tickets through the REST route and a real listening server's WebSocket upgrade path (real
// PostgreSQL and Redis). The sandboxes here are rows in state `paused`, so an accepted ticket gets
// the stream's own 409 — past authentication — without a VM; the PTY behind a ticket on a real
// microVM is sandbox-streams.vm.test.ts.
let t: TestApp;
let server: ReturnType<typeof serve>;
let wsBase: string;

beforeAll(async () => {
  t = await createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  server.on("upgrade", (req, socket, head) => void t.app.upgrades.dispatch(req, socket, head, t.log));
  await new Promise<void>((resolve) => server.once("listening", resolve));
  wsBase = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await t.app.upgrades.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.cleanup();
});

async function insertSandbox(teamWire: string, state = "paused"): Promise<string> {
  const r = await t.db.pool.query("INSERT INTO sandboxes (team_id, state) VALUES ($1, $2) RETURNING id", [
    teamWire.slice(5),
    state,
  ]);
  return `sb-${r.rows[0].id}`;
}

/** Status of a WebSocket upgrade: 101 when it opened, else the HTTP status and body of the refusal. */
function upgrade(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsBase}${path}`, { headers });
    ws.once("open", () => {
      ws.close();
      resolve({ status: 101, body: "" });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once("error", reject);
  });
}

describe("POST /v1/ws-tickets", () => {
  it("issues a wst_ ticket for a sandbox of the caller's team, to a session or an API key", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id);
    const before = Date.now();
    const res = await call(t.app, "POST", "/v1/ws-tickets", { token: u.token, body: { sandbox_id: sb } });
    expect(res.status).toBe(201);
    expect(res.body.ticket).toMatch(/^wst_[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(res.body.expires_at) - before;
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(31_000);

    const key = await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "ci" } });
    const byKey = await call(t.app, "POST", "/v1/ws-tickets", {
      apiKey: key.body.key,
      body: { sandbox_id: sb },
    });
    expect(byKey.status).toBe(201);
  });

  it("stores only the ticket's hash in Redis", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id);
    const { ticket } = (
      await call(t.app, "POST", "/v1/ws-tickets", { token: u.token, body: { sandbox_id: sb } })
    ).body;
    const keys = await t.redis.redis.keys(`${t.redis.redis.options.keyPrefix}ws-ticket:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).not.toContain(ticket);
      const value = await t.redis.redis.get(k.slice(String(t.redis.redis.options.keyPrefix).length));
      expect(value).not.toContain(ticket);
    }
  });

  it("refuses other teams' sandboxes, bad ids, bad bodies and anonymous callers", async () => {
    const owner = await signupUser(t.app);
    const other = await signupUser(t.app);
    const sb = await insertSandbox(owner.team.id);
    const cross = await call(t.app, "POST", "/v1/ws-tickets", {
      token: other.token,
      body: { sandbox_id: sb },
    });
    expect(cross.status).toBe(404);
    expect(cross.body).toEqual({ code: "not_found", message: "sandbox not found" });
    const bad = await call(t.app, "POST", "/v1/ws-tickets", {
      token: owner.token,
      body: { sandbox_id: "x" },
    });
    expect(bad.status).toBe(404);
    const missing = await call(t.app, "POST", "/v1/ws-tickets", { token: owner.token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe("invalid_argument");
    const anon = await call(t.app, "POST", "/v1/ws-tickets", { body: { sandbox_id: sb } });
    expect(anon.status).toBe(401);
  });
});

describe("?ticket= on sandbox WebSockets", () => {
  const ticketFor = async (token: string, sb: string): Promise<string> =>
    (await call(t.app, "POST", "/v1/ws-tickets", { token, body: { sandbox_id: sb } })).body.ticket;

  it("authenticates an upgrade once: the same ticket is refused the second time", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id);
    const ticket = await ticketFor(u.token, sb);
    // Past authentication: the stream's own answer for a paused sandbox.
    const first = await upgrade(`/v1/sandboxes/${sb}/pty?ticket=${ticket}`);
    expect(first.status).toBe(409);
    expect(JSON.parse(first.body).message).toMatch(/paused/);
    const again = await upgrade(`/v1/sandboxes/${sb}/exec/stream?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body)).toEqual({
      code: "unauthenticated",
      message: "WebSocket ticket is invalid, expired or already used",
    });
  });

  it("works on every stream path and never without a ticket or headers", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id);
    for (const path of ["pty", "exec/stream", "processes/12/stream"]) {
      const res = await upgrade(`/v1/sandboxes/${sb}/${path}?ticket=${await ticketFor(u.token, sb)}`);
      expect(res.status, path).toBe(409);
    }
    expect((await upgrade(`/v1/sandboxes/${sb}/pty`)).status).toBe(401);
    expect((await upgrade(`/v1/sandboxes/${sb}/pty?ticket=wst_made-up`)).status).toBe(401);
    expect((await upgrade(`/v1/sandboxes/${sb}/pty?ticket=`)).status).toBe(401);
  });

  it("refuses a ticket on another sandbox (and spends it), even of the same team", async () => {
    const u = await signupUser(t.app);
    const a = await insertSandbox(u.team.id);
    const b = await insertSandbox(u.team.id);
    const ticket = await ticketFor(u.token, a);
    const wrong = await upgrade(`/v1/sandboxes/${b}/pty?ticket=${ticket}`);
    expect(wrong.status).toBe(403);
    expect(JSON.parse(wrong.body).message).toBe("this ticket is for another sandbox");
    expect((await upgrade(`/v1/sandboxes/${a}/pty?ticket=${ticket}`)).status).toBe(401);
  });

  it("stops working when the user leaves the team that owns the sandbox", async () => {
    const owner = await signupUser(t.app);
    const sb = await insertSandbox(owner.team.id);
    const ticket = await ticketFor(owner.token, sb);
    await t.db.pool.query("DELETE FROM users_teams WHERE user_id = $1", [owner.user.id.slice(4)]);
    expect((await upgrade(`/v1/sandboxes/${sb}/pty?ticket=${ticket}`)).status).toBe(403);
  });

  it("stops working once its API key is deleted", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id);
    const key = (await call(t.app, "POST", "/v1/api-keys", { token: u.token, body: { name: "gone" } })).body;
    const ticket = (
      await call(t.app, "POST", "/v1/ws-tickets", { apiKey: key.key, body: { sandbox_id: sb } })
    ).body.ticket;
    expect((await call(t.app, "DELETE", `/v1/api-keys/${key.id}`, { token: u.token })).status).toBe(204);
    expect((await upgrade(`/v1/sandboxes/${sb}/pty?ticket=${ticket}`)).status).toBe(401);
  });
});

describe("WsTicketsService", () => {
  it("lets exactly one of many concurrent redemptions win", async () => {
    const u = await signupUser(t.app);
    const sb = await insertSandbox(u.team.id);
    const ticket = (await call(t.app, "POST", "/v1/ws-tickets", { token: u.token, body: { sandbox_id: sb } }))
      .body.ticket;
    const results = await Promise.all(
      Array.from({ length: 8 }, () => upgrade(`/v1/sandboxes/${sb}/pty?ticket=${ticket}`)),
    );
    expect(results.filter((r) => r.status === 409)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(7);
  });

  it("refuses a ticket after its time to live", async () => {
    const u = await signupUser(t.app);
    const sbWire = await insertSandbox(u.team.id);
    const sandboxId = sbWire.slice(3);
    const me = { kind: "jwt" as const, userId: u.user.id.slice(4), teamId: u.team.id.slice(5) };
    // A service with a 1 s lifetime over the same Redis; sandboxes.get is the only lookup issue() makes.
    const svc = new WsTicketsService(
      {
        db: t.db.db,
        redis: t.redis.redis,
        sandboxes: { get: async () => ({ id: sandboxId, teamId: me.teamId }) } as never,
      },
      1,
    );
    const auth = { ...me, roleHint: null, isAdmin: false, name: "", email: "" };
    const fresh = await svc.issue(auth, sandboxId);
    expect((await svc.redeem(fresh.ticket, sandboxId)).userId).toBe(me.userId);
    const stale = await svc.issue(auth, sandboxId);
    // Redis expires keys on access at millisecond precision, so this cannot race.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(svc.redeem(stale.ticket, sandboxId)).rejects.toMatchObject({ code: "unauthenticated" });
  });
});
