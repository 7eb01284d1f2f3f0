import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type App, createApp } from "@wrenn/control-plane";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";

// Two control planes (two apps, each behind its own listening server) on one real PostgreSQL and
// Redis, as behind a load balancer: what one process hands out, the other honours. The sandboxes are
// rows in state `paused`, so an accepted WebSocket ticket gets the stream's own 409 (past
// authentication) without a VM.
let t: TestApp;
let planes: { app: App; server: ReturnType<typeof serve>; ws: string }[];

beforeAll(async () => {
  t = await createTestApp({ env: { AUTH_RATE_LIMIT_PER_ACCOUNT: "2", TRUST_PROXY: "true" } });
  const second = createApp({ config: t.config, db: t.db.db, redis: t.redis.redis, log: t.log });
  planes = [];
  for (const app of [t.app, second]) {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    server.on("upgrade", (req, socket, head) => void app.upgrades.dispatch(req, socket, head, t.log));
    await new Promise<void>((resolve) => server.once("listening", resolve));
    planes.push({ app, server, ws: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` });
  }
});
afterAll(async () => {
  for (const p of planes ?? []) {
    await p.app.upgrades.close();
    await new Promise<void>((resolve) => p.server.close(() => resolve()));
  }
  await t?.cleanup();
});

function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once("error", reject);
  });
}

describe("two control planes side by side", () => {
  it("share sessions, WebSocket tickets (used once across both) and login throttling", async () => {
    const [a, b] = planes;
    if (!a || !b) throw new Error("two planes expected");
    const u = await signupUser(a.app);
    // A session issued by one is accepted by the other; a logout on one ends it on both.
    expect((await call(b.app, "GET", "/v1/me", { token: u.token })).status).toBe(200);

    const r = await t.db.pool.query(
      "INSERT INTO sandboxes (team_id, state) VALUES ($1, 'paused') RETURNING id",
      [u.team.id.slice(5)],
    );
    const sb = `sb-${r.rows[0].id}`;
    const ticket = (await call(a.app, "POST", "/v1/ws-tickets", { token: u.token, body: { sandbox_id: sb } }))
      .body.ticket;
    // Minted on A, consumed on B (past authentication: the paused sandbox's own 409), refused on A after.
    expect(await upgradeStatus(`${b.ws}/v1/sandboxes/${sb}/pty?ticket=${ticket}`)).toBe(409);
    expect(await upgradeStatus(`${a.ws}/v1/sandboxes/${sb}/pty?ticket=${ticket}`)).toBe(401);

    // Failed logins against one count on the other: switching processes does not reset the backoff.
    const attempt = (app: App) =>
      call(app, "POST", "/v1/auth/login", {
        body: { email: u.user.email, password: "wrong guess" },
        headers: { "x-forwarded-for": "10.7.7.7" },
      });
    expect((await attempt(a.app)).status).toBe(401);
    expect((await attempt(b.app)).status).toBe(401);
    expect((await attempt(a.app)).status).toBe(401);
    expect((await attempt(b.app)).status).toBe(429);

    expect((await call(a.app, "POST", "/v1/auth/logout", { token: u.token })).status).toBe(204);
    expect((await call(b.app, "GET", "/v1/me", { token: u.token })).status).toBe(401);
  });
});
