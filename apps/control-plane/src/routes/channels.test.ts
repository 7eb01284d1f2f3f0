import { createHmac } from "node:crypto";
import { Writable } from "node:stream";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEncryptionKey } from "../crypto/secret-box.ts";

// The loopback receivers stand in for the external services (a webhook consumer, Slack), which
// cannot be reached from the test machine; WRENN_CHANNELS_ALLOW_PRIVATE lets deliveries reach them.

const logLines: string[] = [];
const captured = pino(
  { level: "trace" },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);

let t: TestApp;
let rx: Receiver;
const secrets = [
  "whsec-first-0123456789",
  "whsec-rotated-9876543210",
  "https://hooks.slack.example/T0/B0/s3cr3t",
];

beforeAll(async () => {
  t = await createTestApp({
    env: { WRENN_ENCRYPTION_KEY: generateEncryptionKey(), WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32" },
    deps: { log: captured },
  });
  rx = await startReceiver();
});
afterAll(async () => {
  await rx?.close();
  await t?.cleanup();
});

function verify(req: { headers: Record<string, unknown>; body: string }, secret: string): boolean {
  const ts = String(req.headers["x-wrenn-timestamp"]);
  const expected = `v1=${createHmac("sha256", secret).update(`${ts}.${req.body}`).digest("hex")}`;
  return req.headers["x-wrenn-signature"] === expected;
}

describe("/v1/channels", () => {
  it("lists the providers with their config fields and the event types", async () => {
    const u = await signupUser(t.app);
    const res = await call(t.app, "GET", "/v1/channels/providers", { token: u.token });
    expect(res.status).toBe(200);
    expect(res.body.providers.map((p: { id: string }) => p.id)).toEqual([
      "discord",
      "slack",
      "teams",
      "google_chat",
      "telegram",
      "matrix",
      "webhook",
    ]);
    const matrix = res.body.providers.find((p: { id: string }) => p.id === "matrix");
    expect(matrix.fields.map((f: { name: string; secret: boolean }) => [f.name, f.secret])).toEqual([
      ["homeserver_url", false],
      ["access_token", true],
      ["room_id", false],
    ]);
    expect(res.body.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(["sandbox.auto_paused", "build.failed", "host.unreachable", "template.deleted"]),
    );
  });

  it("tests a config before saving it: a real signed request; failures come back as ok:false", async () => {
    const u = await signupUser(t.app);
    const ok = await call(t.app, "POST", "/v1/channels/test", {
      token: u.token,
      body: {
        provider: "webhook",
        name: "ops",
        config: { url: `${rx.url}/before-save`, secret: secrets[0] },
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, status: 200 });
    const req = rx.requests.find((r) => r.path === "/before-save");
    expect(req && verify(req, secrets[0] as string)).toBe(true);
    expect(req?.json).toMatchObject({ type: "channel.test", title: "Wrenn test notification" });

    rx.script([500]);
    const failed = await call(t.app, "POST", "/v1/channels/test", {
      token: u.token,
      body: { provider: "webhook", config: { url: `${rx.url}/x`, secret: secrets[0] } },
    });
    expect(failed.body).toEqual({ ok: false, error: "Webhook answered HTTP 500" });
  });

  it("refuses private, link-local and metadata addresses (SSRF) even through the test endpoint", async () => {
    const u = await signupUser(t.app);
    for (const url of ["http://10.0.0.7/hook", "http://169.254.169.254/latest", "http://127.0.0.2:9/x"]) {
      const res = await call(t.app, "POST", "/v1/channels/test", {
        token: u.token,
        body: { provider: "slack", config: { webhook_url: url } },
      });
      expect(res.status).toBe(200);
      expect(res.body.ok).toBe(false);
      expect(res.body.error).toMatch(/private\/loopback\/link-local address; deliveries there are refused/);
    }
  });

  it("creates a channel with its secrets encrypted at rest and masked in every answer", async () => {
    const u = await signupUser(t.app);
    const created = await call(t.app, "POST", "/v1/channels", {
      token: u.token,
      body: {
        name: "alerts",
        provider: "webhook",
        config: { url: `${rx.url}/hook/with-token-in-path`, secret: secrets[0] },
        events: ["sandbox.auto_paused", "host.unreachable"],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "alerts",
      provider: "webhook",
      events: ["sandbox.auto_paused", "host.unreachable"],
      enabled: true,
      disabled_reason: "",
      last_delivery: null,
      consecutive_failures: 0,
      config: { url: "••••path", secret: "••••" },
    });
    expect(created.body.id).toMatch(/^ch-/);
    const listed = await call(t.app, "GET", "/v1/channels", { token: u.token });
    const got = await call(t.app, "GET", `/v1/channels/${created.body.id}`, { token: u.token });
    for (const body of [created.body, listed.body, got.body]) {
      expect(JSON.stringify(body)).not.toContain(secrets[0]);
      expect(JSON.stringify(body)).not.toContain("with-token-in");
    }
    const { rows } = await t.db.pool.query("SELECT config_encrypted FROM channels WHERE team_id = $1", [
      u.team.id.replace(/^team-/, ""),
    ]);
    expect(rows).toHaveLength(1);
    expect(Buffer.from(rows[0].config_encrypted).toString("latin1")).not.toContain(secrets[0]);

    const dup = await call(t.app, "POST", "/v1/channels", {
      token: u.token,
      body: {
        name: "alerts",
        provider: "slack",
        config: { webhook_url: "https://hooks.slack.com/services/x" },
      },
    });
    expect(dup.status).toBe(409);
    const audit = await call(t.app, "GET", "/v1/audit-logs?resource_type=channel", { token: u.token });
    expect(audit.body.items[0]).toMatchObject({ action: "create", resource_id: created.body.id });
  });

  it("validates provider, config fields (naming the field, not the value) and event types", async () => {
    const u = await signupUser(t.app);
    const cases: [unknown, RegExp][] = [
      [{ name: "a", provider: "pager", config: {} }, /provider must be one of discord, slack/],
      [
        { name: "a", provider: "telegram", config: { bot_token: "oops-value", chat_id: "1" } },
        /bot_token: must look like/,
      ],
      [
        { name: "a", provider: "slack", config: { webhook_url: "ftp://x", extra: "1" } },
        /unknown field|webhook_url/,
      ],
      [
        {
          name: "a",
          provider: "slack",
          config: { webhook_url: "https://h/x" },
          events: ["sandbox.exploded"],
        },
        /unknown event type/,
      ],
      [{ name: "a", provider: "slack", config: { webhook_url: "https://h/x" }, events: [] }, /at least one/],
    ];
    for (const [body, message] of cases) {
      const res = await call(t.app, "POST", "/v1/channels", { token: u.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("invalid_argument");
      expect(res.body.message).toMatch(message);
      expect(res.body.message).not.toContain("oops-value");
    }
  });

  it("rotates a secret: later messages are signed with the new one; other fields are kept", async () => {
    const u = await signupUser(t.app);
    const ch = await call(t.app, "POST", "/v1/channels", {
      token: u.token,
      body: { name: "rot", provider: "webhook", config: { url: `${rx.url}/rotating`, secret: secrets[0] } },
    });
    const rotated = await call(t.app, "PUT", `/v1/channels/${ch.body.id}/config`, {
      token: u.token,
      body: { secret: secrets[1] },
    });
    expect(rotated.status).toBe(200);
    expect(JSON.stringify(rotated.body)).not.toContain(secrets[1]);
    const tested = await call(t.app, "POST", `/v1/channels/${ch.body.id}/test`, { token: u.token });
    expect(tested.body).toEqual({ ok: true, status: 200 });
    const req = rx.requests.filter((r) => r.path === "/rotating").at(-1);
    expect(req && verify(req, secrets[1] as string)).toBe(true);
    expect(req && verify(req, secrets[0] as string)).toBe(false);
    const bad = await call(t.app, "PUT", `/v1/channels/${ch.body.id}/config`, {
      token: u.token,
      body: { secret: "short" },
    });
    expect(bad.status).toBe(400);
  });

  it("updates name, events and enabled; deletes", async () => {
    const u = await signupUser(t.app);
    const ch = await call(t.app, "POST", "/v1/channels", {
      token: u.token,
      body: { name: "x", provider: "slack", config: { webhook_url: secrets[2] } },
    });
    expect(ch.body.events.length).toBeGreaterThan(10);
    const upd = await call(t.app, "PATCH", `/v1/channels/${ch.body.id}`, {
      token: u.token,
      body: { name: "y", events: ["build.failed"], enabled: false },
    });
    expect(upd.body).toMatchObject({
      name: "y",
      events: ["build.failed"],
      enabled: false,
      disabled_reason: "user",
    });
    const re = await call(t.app, "PATCH", `/v1/channels/${ch.body.id}`, {
      token: u.token,
      body: { enabled: true },
    });
    expect(re.body).toMatchObject({ enabled: true, disabled_reason: "" });
    expect((await call(t.app, "DELETE", `/v1/channels/${ch.body.id}`, { token: u.token })).status).toBe(204);
    expect((await call(t.app, "GET", `/v1/channels/${ch.body.id}`, { token: u.token })).status).toBe(404);
  });

  it("lets members read but only admins and owners change; API keys act with their creator's role", async () => {
    const owner = await signupUser(t.app);
    const member = await signupUser(t.app);
    const add = await call(t.app, "POST", `/v1/teams/${owner.team.id}/members`, {
      token: owner.token,
      body: { email: member.user.email, role: "member" },
    });
    expect(add.status).toBe(201);
    const switched = await call(t.app, "POST", "/v1/auth/switch-team", {
      token: member.token,
      body: { team_id: owner.team.id },
    });
    const memberToken = switched.body.token as string;
    const ch = await call(t.app, "POST", "/v1/channels", {
      token: owner.token,
      body: { name: "team", provider: "slack", config: { webhook_url: secrets[2] } },
    });
    expect((await call(t.app, "GET", "/v1/channels", { token: memberToken })).body.channels).toHaveLength(1);
    const key = await call(t.app, "POST", "/v1/api-keys", { token: memberToken, body: { name: "m" } });
    for (const auth of [{ token: memberToken }, { apiKey: key.body.key as string }]) {
      for (const [method, path, body] of [
        ["POST", "/v1/channels", { name: "z", provider: "slack", config: { webhook_url: "https://h/x" } }],
        ["PUT", `/v1/channels/${ch.body.id}/config`, { webhook_url: "https://h/y" }],
        ["POST", `/v1/channels/${ch.body.id}/test`, undefined],
        ["DELETE", `/v1/channels/${ch.body.id}`, undefined],
      ] as const) {
        const res = await call(t.app, method, path, { ...auth, body });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.code).toBe("permission_denied");
      }
    }
    const ownerKey = await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "o" } });
    const viaKey = await call(t.app, "PATCH", `/v1/channels/${ch.body.id}`, {
      apiKey: ownerKey.body.key,
      body: { name: "renamed" },
    });
    expect(viaKey.status).toBe(200);
  });

  it("isolates teams: another team cannot see, test, rotate or delete a channel (404)", async () => {
    const a = await signupUser(t.app);
    const b = await signupUser(t.app);
    const ch = await call(t.app, "POST", "/v1/channels", {
      token: a.token,
      body: { name: "a", provider: "slack", config: { webhook_url: secrets[2] } },
    });
    expect((await call(t.app, "GET", "/v1/channels", { token: b.token })).body.channels).toEqual([]);
    for (const [method, path, body] of [
      ["GET", `/v1/channels/${ch.body.id}`, undefined],
      ["GET", `/v1/channels/${ch.body.id}/deliveries`, undefined],
      ["POST", `/v1/channels/${ch.body.id}/test`, undefined],
      ["PUT", `/v1/channels/${ch.body.id}/config`, { webhook_url: "https://h/y" }],
      ["PATCH", `/v1/channels/${ch.body.id}`, { name: "mine" }],
      ["DELETE", `/v1/channels/${ch.body.id}`, undefined],
    ] as const) {
      const res = await call(t.app, method, path, { token: b.token, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toEqual({ code: "not_found", message: "channel not found" });
    }
    expect((await call(t.app, "GET", `/v1/channels/${ch.body.id}`, { token: a.token })).body.name).toBe("a");
  });

  it("limits test messages per team (429 after 20 a minute)", async () => {
    const u = await signupUser(t.app);
    const body = { provider: "webhook", config: { url: `${rx.url}/limited`, secret: secrets[0] } };
    // The limiter counts per clock minute: start well inside one so all 21 calls share it.
    while (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 250));
    for (let i = 0; i < 20; i++) {
      expect((await call(t.app, "POST", "/v1/channels/test", { token: u.token, body })).status).toBe(200);
    }
    const over = await call(t.app, "POST", "/v1/channels/test", { token: u.token, body });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe("resource_exhausted");
    expect(rx.requests.filter((r) => r.path === "/limited")).toHaveLength(20);
  });

  it("never wrote a secret into a log line", () => {
    expect(logLines.length).toBeGreaterThan(10);
    for (const line of logLines) for (const s of secrets) expect(line).not.toContain(s);
  });
});
