import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { loggerOptions } from "@wrenn/common";
import { pruneChannelDeliveries } from "@wrenn/db";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { registerHost, signupAdmin } from "@wrenn/testing/hosts";
import { pollUntil } from "@wrenn/testing/poll";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuildAudit } from "../builds/audit.ts";
import { generateEncryptionKey, SecretBox } from "../crypto/secret-box.ts";
import { systemActor } from "../services/actor.ts";
import { AuditLogger } from "../services/audit.ts";
import { ChannelDispatcher, type DispatcherOptions } from "./dispatcher.ts";
import { OutboundClient, type OutboundRequest, type OutboundResponse } from "./outbound.ts";
import { ChannelsService } from "./service.ts";
import { DISPATCH_GROUP, dispatchBacklog, EventPublisher, eventStreamKey } from "./stream.ts";

// The loopback receivers stand in for a team's webhook endpoint (an external service that cannot
// be reached from here). Retry delays are milliseconds instead of the production 10 s / 30 s.

const key = generateEncryptionKey();
// Every log line (production options and redaction, all levels) is kept to check that no secret
// reaches the log, on success and on failure.
const logLines: string[] = [];
const log = pino(
  loggerOptions("dispatcher-test", "trace"),
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);
let t: TestApp;
let audit: AuditLogger;
const dispatchers: ChannelDispatcher[] = [];

beforeAll(async () => {
  t = await createTestApp({
    env: { WRENN_ENCRYPTION_KEY: key, WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32" },
  });
  audit = new AuditLogger(t.db.db, log, new EventPublisher(t.redis.redis, t.db.db, log));
});
afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.stop()));
  await t?.app.builds.close();
  await t?.cleanup();
});

async function startDispatcher(options: Partial<DispatcherOptions> = {}): Promise<ChannelDispatcher> {
  const d = new ChannelDispatcher({
    db: t.db.db,
    redis: t.redis.redis,
    log,
    box: SecretBox.fromSettings(key),
    outbound: new OutboundClient({ allowPrivate: ["127.0.0.1/32"], timeoutMs: 2000 }),
    audit,
    dashboardUrl: "https://wrenn.example.com",
    retryDelaysMs: [50, 100],
    disableAfter: 2,
    blockMs: 200,
    pollMs: 20,
    ...options,
  });
  await d.start();
  dispatchers.push(d);
  return d;
}

async function teamWithWebhook(rx: Receiver, events = ["sandbox.auto_paused"]) {
  const u = await signupUser(t.app);
  const ch = await call(t.app, "POST", "/v1/channels", {
    token: u.token,
    body: {
      name: "hook",
      provider: "webhook",
      config: { url: `${rx.url}/hook`, secret: "s".repeat(20) },
      events,
    },
  });
  if (ch.status !== 201) throw new Error(JSON.stringify(ch.body));
  return { ...u, teamUuid: u.team.id.replace(/^team-/, ""), channelId: ch.body.id as string };
}

/** An auto-pause, recorded the way the host monitor records it. */
function autoPause(teamUuid: string, sandboxUuid = randomUUID()) {
  return audit.sandboxAction(systemActor, teamUuid, sandboxUuid, "reconcile_paused", {
    status: "info",
    metadata: { from: "running", reason: "inactivity timeout" },
  });
}

/** Reads `probe` until it gives a value (a deadline, no fixed sleep). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  return (await pollUntil(what, probe, (v) => v !== undefined, timeoutMs)) as T;
}

/**
 * Waits until the dispatchers have handled every event appended so far (none unread, none
 * unacknowledged): then nothing more can arrive for them, so "no further request" can be checked.
 */
async function settled(): Promise<void> {
  const stream = await eventStreamKey(t.db.db);
  await pollUntil(
    "the dispatchers to handle every event",
    () => dispatchBacklog(t.redis.redis, stream),
    (b) => b.pending === 0 && b.unread === 0,
    10_000,
  );
}

describe("channel dispatcher", () => {
  it("retries a failing receiver (fail, fail, succeed): delivered once, three attempts recorded", async () => {
    await startDispatcher();
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx);
      rx.script([500, 503]);
      const sandbox = randomUUID();
      await autoPause(team.teamUuid, sandbox);
      const deliveries = await until("a delivered delivery", async () => {
        const res = await call(t.app, "GET", `/v1/channels/${team.channelId}/deliveries`, {
          token: team.token,
        });
        return res.body.deliveries?.[0]?.status === "delivered" ? res.body.deliveries : undefined;
      });
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ event_type: "sandbox.auto_paused", attempts: 3, last_error: "" });
      expect(rx.requests).toHaveLength(3);
      // The same event each time (same delivery id), as a receiver de-duplicating by it expects.
      expect(new Set(rx.requests.map((r) => r.headers["x-wrenn-delivery"])).size).toBe(1);
      expect(rx.requests[2]?.json).toMatchObject({
        type: "sandbox.auto_paused",
        resource: { type: "sandbox", id: `sb-${sandbox}` },
        url: `https://wrenn.example.com/capsules/sb-${sandbox}`,
      });
      // The channel's status follows the delivery row.
      const ch = await until("the channel's last delivery", async () => {
        const res = await call(t.app, "GET", `/v1/channels/${team.channelId}`, { token: team.token });
        return res.body.last_delivery ? res : undefined;
      });
      expect(ch.body).toMatchObject({
        enabled: true,
        consecutive_failures: 0,
        last_delivery: { status: "delivered" },
      });
    } finally {
      await rx.close();
    }
  });

  it("records a final failure on the channel and auto-disables it after repeated failures, with an audit entry", async () => {
    const rx = await startReceiver({ fallback: 500 });
    try {
      const team = await teamWithWebhook(rx);
      await autoPause(team.teamUuid);
      const first = await until("the first final failure", async () => {
        const res = await call(t.app, "GET", `/v1/channels/${team.channelId}`, { token: team.token });
        return res.body.consecutive_failures === 1 ? res.body : undefined;
      });
      expect(first).toMatchObject({
        enabled: true,
        last_delivery: { status: "failed", error: "Webhook answered HTTP 500" },
      });
      expect(rx.requests).toHaveLength(3);
      await autoPause(team.teamUuid);
      const disabled = await until("auto-disable", async () => {
        const res = await call(t.app, "GET", `/v1/channels/${team.channelId}`, { token: team.token });
        return res.body.enabled === false ? res.body : undefined;
      });
      expect(disabled).toMatchObject({
        consecutive_failures: 2,
        disabled_reason: "auto: 2 consecutive failed deliveries",
        last_delivery: { status: "failed" },
      });
      const deliveries = await call(t.app, "GET", `/v1/channels/${team.channelId}/deliveries`, {
        token: team.token,
      });
      expect(
        deliveries.body.deliveries.map((d: { status: string; attempts: number }) => [d.status, d.attempts]),
      ).toEqual([
        ["failed", 3],
        ["failed", 3],
      ]);
      const entries = await until("the auto_disable audit entry", async () => {
        const res = await call(t.app, "GET", "/v1/audit-logs?resource_type=channel&action=auto_disable", {
          token: team.token,
        });
        return res.body.items?.length ? res.body.items : undefined;
      });
      expect(entries[0]).toMatchObject({ resource_id: team.channelId, actor: { type: "system" } });
      // A disabled channel gets nothing more.
      await autoPause(team.teamUuid);
      await settled();
      expect(rx.requests).toHaveLength(6);
    } finally {
      await rx.close();
    }
  });

  it("with two dispatchers on one Redis, delivers every event exactly once per channel", async () => {
    await startDispatcher({ consumer: "second" });
    const rxA = await startReceiver();
    const rxB = await startReceiver();
    try {
      const team = await teamWithWebhook(rxA, ["sandbox.auto_paused", "sandbox.destroyed"]);
      // A second channel of the same team, on another receiver.
      await call(t.app, "POST", "/v1/channels", {
        token: team.token,
        body: {
          name: "hook-b",
          provider: "webhook",
          config: { url: `${rxB.url}/b`, secret: "b".repeat(20) },
        },
      });
      const n = 30;
      const handledBefore = dispatchers.reduce((sum, d) => sum + d.handledEvents, 0);
      await Promise.all(Array.from({ length: n }, () => autoPause(team.teamUuid)));
      await rxA.waitFor(n);
      await rxB.waitFor(n);
      await settled();
      for (const rx of [rxA, rxB]) {
        const ids = rx.requests.map((r) => r.headers["x-wrenn-delivery"]);
        expect(ids).toHaveLength(n);
        expect(new Set(ids).size).toBe(n);
      }
      // Each stream entry was handled by one of the two dispatchers, never by both.
      expect(dispatchers).toHaveLength(2);
      expect(dispatchers.reduce((sum, d) => sum + d.handledEvents, 0) - handledBefore).toBe(n);
    } finally {
      await rxA.close();
      await rxB.close();
    }
  });

  it("delivers build outcomes recorded by the build audit, and a built template as created", async () => {
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx, ["build.failed", "template.created"]);
      const builds = new BuildAudit(t.db.db, log, new EventPublisher(t.redis.redis, t.db.db, log));
      const build = randomUUID();
      await builds.record(systemActor, team.teamUuid, build, "build.started");
      await builds.record(systemActor, team.teamUuid, build, "build.failed", {
        status: "error",
        metadata: { error: "step 2 exited 1" },
      });
      const [req] = await rx.waitFor(1);
      expect(req?.json).toMatchObject({
        type: "build.failed",
        resource: { type: "build", id: `bld-${build}` },
        text: `Build failed: bld-${build} · error: step 2 exited 1`,
        url: `https://wrenn.example.com/builds/bld-${build}`,
      });
      await settled();
      expect(rx.requests).toHaveLength(1);
      // A successful rebuild: the channel subscribed to template.created (not build.succeeded) hears of it.
      const rebuilt = randomUUID();
      const template = `tpl-${randomUUID()}`;
      await builds.record(systemActor, team.teamUuid, rebuilt, "build.succeeded", {
        metadata: { name: "py", template_id: template, type: "template" },
      });
      const [, created] = await rx.waitFor(2);
      expect(created?.json).toMatchObject({
        type: "template.created",
        resource: { type: "template", id: template },
        text: `Template created: ${template} · py · built by bld-${rebuilt}`,
        url: "https://wrenn.example.com/templates",
      });
      await settled();
      expect(rx.requests).toHaveLength(2);
    } finally {
      await rx.close();
    }
  });

  it("reports builds through the real build API: a cancelled queued build, one the runner fails (no host online)", async () => {
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx, ["build.cancelled", "build.failed", "build.succeeded"]);
      const submit = (name: string) =>
        call(t.app, "POST", "/v1/builds", {
          token: team.token,
          body: { name, recipe: "RUN true", skip_pre_post: true },
        });
      const queued = await submit("to-cancel");
      expect(queued.status, JSON.stringify(queued.body)).toBe(202);
      const cancel = await call(t.app, "POST", `/v1/builds/${queued.body.id}/cancel`, { token: team.token });
      expect(cancel.status).toBe(200);
      const [cancelled] = await rx.waitFor(1);
      expect(cancelled?.json).toMatchObject({
        type: "build.cancelled",
        resource: { type: "build", id: queued.body.id },
        url: `https://wrenn.example.com/builds/${queued.body.id}`,
      });
      // Build workers take the next one; with no host online the runner fails it.
      await t.app.builds.start();
      const doomed = await submit("no-host");
      const [, failed] = await rx.waitFor(2, 20_000);
      expect(failed?.json).toMatchObject({
        type: "build.failed",
        resource: { type: "build", id: doomed.body.id },
        text: `Build failed: ${doomed.body.id} · no-host · error: no host is online to run the build`,
      });
      await settled();
      expect(rx.requests).toHaveLength(2);
    } finally {
      await rx.close();
    }
  });

  it("sends shared-host events (no team) to the channels of operator teams only", async () => {
    const rxOps = await startReceiver();
    const rxTeam = await startReceiver();
    try {
      const ops = await teamWithWebhook(rxOps, ["host.unreachable"]);
      await teamWithWebhook(rxTeam, ["host.unreachable"]);
      await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [
        ops.user.id.replace(/^usr-/, ""),
      ]);
      const host = randomUUID();
      await audit.hostStatusChanged(null, host, "unreachable", 2);
      const [req] = await rxOps.waitFor(1);
      expect(req?.json).toMatchObject({
        type: "host.unreachable",
        team_id: null,
        resource: { id: `host-${host}` },
      });
      await settled();
      expect(rxTeam.requests).toHaveLength(0);
    } finally {
      await rxOps.close();
      await rxTeam.close();
    }
  });

  it("reports a shared host online at registration and again when its heartbeat brings it back, once each", async () => {
    const rx = await startReceiver();
    try {
      const ops = await signupAdmin(t);
      const ch = await call(t.app, "POST", "/v1/channels", {
        token: ops.token,
        body: {
          name: "hosts",
          provider: "webhook",
          config: { url: `${rx.url}/hosts`, secret: "h".repeat(20) },
          events: ["host.online"],
        },
      });
      expect(ch.status).toBe(201);
      const host = await registerHost(t, ops.token, "127.0.0.1:9");
      await rx.waitFor(1);
      await t.db.pool.query("UPDATE hosts SET status = 'unreachable' WHERE id = $1", [host.uuid]);
      for (let i = 0; i < 2; i++) {
        const beat = await call(t.app, "POST", `/v1/hosts/${host.wire}/heartbeat`, {
          headers: { "x-host-token": host.token },
        });
        expect(beat.status).toBe(204);
      }
      await rx.waitFor(2);
      await settled();
      expect(
        rx.requests.map((r) => (r.json as { type: string; resource: { id: string } }).resource.id),
      ).toEqual([host.wire, host.wire]);
    } finally {
      await rx.close();
    }
  });

  it("re-seals configs under a rotated WRENN_ENCRYPTION_KEY and keeps delivering with the new key alone", async () => {
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx);
      const newKey = generateEncryptionKey();
      const rotating = new ChannelsService({
        db: t.db.db,
        box: SecretBox.fromSettings(newKey, key),
        outbound: new OutboundClient(),
        audit,
        dashboardUrl: undefined,
      });
      expect(await rotating.reencryptStale()).toBeGreaterThanOrEqual(1);
      expect(await rotating.reencryptStale()).toBe(0);
      // A dispatcher that knows only the new key delivers to the re-sealed channel.
      const onlyNew = await startDispatcher({ box: SecretBox.fromSettings(newKey), consumer: "new-key" });
      await Promise.all(dispatchers.filter((d) => d !== onlyNew).map((d) => d.stop()));
      await autoPause(team.teamUuid);
      const [req] = await rx.waitFor(1);
      expect(req?.json).toMatchObject({ type: "sandbox.auto_paused" });
      // The app still seals new channels with the old key: back to a dispatcher that has it.
      await onlyNew.stop();
      await startDispatcher({ consumer: "old-key-again" });
    } finally {
      await rx.close();
    }
  });

  it("sends an event only to its own team's subscribed channels", async () => {
    const rxA = await startReceiver();
    const rxB = await startReceiver();
    try {
      const a = await teamWithWebhook(rxA, ["sandbox.auto_paused"]);
      await teamWithWebhook(rxB, ["sandbox.auto_paused"]);
      const c = await teamWithWebhook(rxB, ["build.failed"]);
      await autoPause(a.teamUuid);
      await autoPause(c.teamUuid);
      await rxA.waitFor(1);
      // A soft-deleted team's channels fall silent.
      await t.db.pool.query("UPDATE teams SET deleted_at = now() WHERE id = $1", [a.teamUuid]);
      await autoPause(a.teamUuid);
      await settled();
      expect(rxA.requests).toHaveLength(1);
      expect(rxB.requests).toHaveLength(0);
    } finally {
      await rxA.close();
      await rxB.close();
    }
  });

  it("never logs a channel's secrets (tokens in URLs, bot tokens, signing secrets), also when deliveries fail", async () => {
    await startDispatcher({ consumer: "logging" });
    const rx = await startReceiver({ fallback: 500 });
    const secrets = {
      botToken: "424242:tg-token-NEVER-LOGGED",
      slackPath: "/services/T0/B0/slack-path-NEVER-LOGGED",
      signing: "whsec-signing-NEVER-LOGGED",
      matrixToken: "syt_matrix-token-NEVER-LOGGED",
    };
    try {
      const u = await signupUser(t.app);
      const teamUuid = u.team.id.replace(/^team-/, "");
      const configs: [string, Record<string, string>][] = [
        ["telegram", { bot_token: secrets.botToken, chat_id: "-1001", api_url: rx.url }],
        ["slack", { webhook_url: `${rx.url}${secrets.slackPath}` }],
        ["webhook", { url: `${rx.url}/hook`, secret: secrets.signing }],
        ["matrix", { homeserver_url: rx.url, access_token: secrets.matrixToken, room_id: "!r:example.org" }],
      ];
      const ids: string[] = [];
      for (const [provider, config] of configs) {
        const ch = await call(t.app, "POST", "/v1/channels", {
          token: u.token,
          body: { name: provider, provider, config, events: ["sandbox.auto_paused"] },
        });
        expect(ch.status, JSON.stringify(ch.body)).toBe(201);
        ids.push(ch.body.id);
      }
      await autoPause(teamUuid);
      // Each fails three times (500) and records its final failure.
      for (const id of ids) {
        await until(`channel ${id}'s final failure`, async () => {
          const res = await call(t.app, "GET", `/v1/channels/${id}`, { token: u.token });
          return res.body.consecutive_failures === 1 ? res.body : undefined;
        });
      }
      expect(rx.requests).toHaveLength(3 * configs.length);
      const failures = logLines.filter((l) => l.includes("channel delivery failed"));
      expect(failures.length).toBeGreaterThanOrEqual(3 * configs.length);
      for (const secret of Object.values(secrets)) {
        expect(
          logLines.filter((l) => l.includes(secret)),
          secret,
        ).toEqual([]);
      }
    } finally {
      await rx.close();
    }
  });

  it("delivers an event a crashed dispatcher read but never acknowledged", async () => {
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx);
      await Promise.all(dispatchers.map((d) => d.stop()));
      await autoPause(team.teamUuid);
      // A dispatcher that reads the event and dies before handling it.
      const read = (await t.redis.redis.xreadgroup(
        "GROUP",
        DISPATCH_GROUP,
        "crashed",
        "COUNT",
        1,
        "STREAMS",
        await eventStreamKey(t.db.db),
        ">",
      )) as [string, [string, string[]][]][] | null;
      expect(read?.[0]?.[1]).toHaveLength(1);
      await startDispatcher({ consumer: "survivor", reclaimIdleMs: 300 });
      const [req] = await rx.waitFor(1);
      expect(req?.json).toMatchObject({ type: "sandbox.auto_paused", id: read?.[0]?.[1][0]?.[0] });
    } finally {
      await rx.close();
    }
  });

  // A process dying mid-send cannot be staged inside this test process: the "dying" dispatcher's
  // outbound client stops answering after `answered` sends (its attempt never ends, as in a crash),
  // and the dispatcher is stopped from reading; everything else is the real dispatcher on real Redis.
  class StallingOutbound extends OutboundClient {
    sends = 0;
    readonly #answered: number;
    constructor(answered: number) {
      super({ allowPrivate: ["127.0.0.1/32"], timeoutMs: 2000 });
      this.#answered = answered;
    }
    override async send(req: OutboundRequest): Promise<OutboundResponse> {
      this.sends++;
      if (this.sends <= this.#answered) return super.send(req);
      return new Promise<OutboundResponse>(() => undefined);
    }
  }

  /** A dispatcher that stalls after `answered` sends; not stopped in afterAll (its attempt never ends). */
  async function dyingDispatcher(
    answered: number,
  ): Promise<{ d: ChannelDispatcher; outbound: StallingOutbound }> {
    const outbound = new StallingOutbound(answered);
    const d = new ChannelDispatcher({
      db: t.db.db,
      redis: t.redis.redis,
      log,
      box: SecretBox.fromSettings(key),
      outbound,
      audit,
      dashboardUrl: "https://wrenn.example.com",
      retryDelaysMs: [50, 100],
      disableAfter: 5,
      consumer: `dying-${randomUUID()}`,
      blockMs: 200,
      pollMs: 20,
      reclaimIdleMs: 400,
    });
    await d.start();
    return { d, outbound };
  }

  it("delivers an event whose dispatcher died while sending it (its claim lapses before the takeover)", async () => {
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx);
      await Promise.all(dispatchers.map((d) => d.stop()));
      const dying = await dyingDispatcher(0);
      await autoPause(team.teamUuid);
      await pollUntil(
        "the dying dispatcher to start sending",
        async () => dying.outbound.sends,
        (n) => n === 1,
        10_000,
      );
      void dying.d.stop(); // it reads no more; its send never ends
      await startDispatcher({ consumer: `survivor-${randomUUID()}`, reclaimIdleMs: 400 });
      const [req] = await rx.waitFor(1);
      expect(req?.json).toMatchObject({ type: "sandbox.auto_paused" });
      const res = await until("the delivery recorded", async () => {
        const r = await call(t.app, "GET", `/v1/channels/${team.channelId}/deliveries`, {
          token: team.token,
        });
        return r.body.deliveries?.[0]?.status === "delivered" ? r : undefined;
      });
      expect(res.body.deliveries).toHaveLength(1);
    } finally {
      await rx.close();
    }
  });

  it("runs a retry whose dispatcher died while sending it", async () => {
    const rx = await startReceiver();
    try {
      const team = await teamWithWebhook(rx);
      await Promise.all(dispatchers.map((d) => d.stop()));
      // The first attempt fails (500) and schedules a retry; the dispatcher then takes the retry and stalls.
      rx.script([500]);
      const dying = await dyingDispatcher(1);
      await autoPause(team.teamUuid);
      await pollUntil(
        "the dying dispatcher to take the retry",
        async () => dying.outbound.sends,
        (n) => n === 2,
        10_000,
      );
      void dying.d.stop();
      await startDispatcher({ consumer: `survivor-${randomUUID()}` });
      const requests = await rx.waitFor(2);
      expect(new Set(requests.map((r) => r.headers["x-wrenn-delivery"])).size).toBe(1);
      const res = await until("the retry delivered", async () => {
        const r = await call(t.app, "GET", `/v1/channels/${team.channelId}/deliveries`, {
          token: team.token,
        });
        return r.body.deliveries?.[0]?.status === "delivered" ? r : undefined;
      });
      expect(res.body.deliveries[0]).toMatchObject({ attempts: 2 });
    } finally {
      await rx.close();
    }
  });

  it("prunes delivery rows past their retention", async () => {
    // No delivery in flight while counting.
    await Promise.all(dispatchers.map((d) => d.stop()));
    const { rows } = await t.db.pool.query("SELECT count(*)::int AS n FROM channel_deliveries");
    expect(rows[0].n).toBeGreaterThan(0);
    expect(await pruneChannelDeliveries(t.db.db, new Date(Date.now() - 3600_000))).toBe(0);
    expect(await pruneChannelDeliveries(t.db.db, new Date(Date.now() + 1000))).toBe(rows[0].n);
  });
});
