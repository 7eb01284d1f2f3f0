import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type ProcessTestDeployment, startTestDeploymentWithAgentProcess } from "@wrenn/testing/deployment";
import { pollUntil } from "@wrenn/testing/poll";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEncryptionKey } from "../crypto/secret-box.ts";
import { dispatchBacklog, eventStreamKey } from "./stream.ts";

// Lifecycle events from real actions on a real deployment (control plane, PostgreSQL, Redis, a
// host agent process running QEMU microVMs) reach notification channels end to end: through the
// audit path, the Redis stream and the dispatcher to a signed webhook. The loopback receivers
// stand in for the teams' webhook endpoints (external services cannot be reached from here).
// Short monitor timings make a killed agent's host unreachable within seconds.
let d: ProcessTestDeployment;
let redis: Redis;
/** The team's channel: every event type (the default). */
let teamRx: Receiver;
/** An operator team's channel (its owner is a platform admin): host events of shared hosts. */
let opsRx: Receiver;

interface Hook {
  type: string;
  resource: { type: string; id: string };
  text: string;
}

async function api(method: string, path: string, body?: unknown, auth?: { token: string }) {
  const res = await fetch(`${d.url}${path}`, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${auth.token}` } : { "x-api-key": d.apiKey }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text.startsWith("{") ? JSON.parse(text) : undefined };
}

function hooks(rx: Receiver): Hook[] {
  return rx.requests.map((r) => r.json as Hook);
}

/** Waits for the `type` event of `id` on `rx` (the dispatcher delivers within a second or so). */
async function event(rx: Receiver, type: string, id: string): Promise<Hook> {
  const found = await pollUntil(
    `${type} of ${id}`,
    async () => hooks(rx).find((h) => h.type === type && h.resource.id === id),
    (h) => h !== undefined,
    20_000,
  );
  return found as Hook;
}

/** Waits until every event appended so far has been handled (none unread, none unacknowledged). */
async function settled(): Promise<void> {
  const stream = await eventStreamKey(d.controlPlane.db);
  await pollUntil(
    "the dispatcher to handle every event",
    () => dispatchBacklog(redis, stream),
    (b) => b.pending === 0 && b.unread === 0,
    20_000,
  );
}

/** The agent's directory of template `wireId` (`templates/teams/<team>/<template>`), found on disk. */
async function templateDir(wireId: string): Promise<string> {
  const uuid = wireId.replace(/^tpl-/, "");
  const teams = join(d.agentProcess.dataDir, "templates", "teams");
  for (const team of await readdir(teams)) {
    for (const t of await readdir(join(teams, team))) {
      if (t.includes(uuid)) return join(teams, team, t);
    }
  }
  throw new Error(`no directory of ${wireId} under ${teams}`);
}

beforeAll(async () => {
  d = await startTestDeploymentWithAgentProcess({
    env: {
      HOST_MONITOR_INTERVAL_SEC: "1",
      HOST_STALE_AFTER_SEC: "4",
      WRENN_ENCRYPTION_KEY: generateEncryptionKey(),
      WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32",
    },
    agentEnv: { WRENN_HEARTBEAT_INTERVAL_MS: "1000" },
  });
  redis = new Redis(d.config.redisUrl);
  teamRx = await startReceiver();
  opsRx = await startReceiver();
  const team = await api("POST", "/v1/channels", {
    name: "everything",
    provider: "webhook",
    config: { url: `${teamRx.url}/team`, secret: "team-signing-secret-0123" },
  });
  expect(team.status, team.text).toBe(201);
  const ops = await api(
    "POST",
    "/v1/channels",
    {
      name: "hosts",
      provider: "webhook",
      config: { url: `${opsRx.url}/ops`, secret: "ops-signing-secret-0123" },
      events: ["host.online", "host.unreachable", "host.deleted"],
    },
    { token: d.adminToken },
  );
  expect(ops.status, ops.text).toBe(201);
});

afterAll(async () => {
  if (d) {
    const list = await api("GET", "/v1/sandboxes?limit=100");
    for (const s of (list.body?.sandboxes ?? []) as { id: string }[]) {
      await api("DELETE", `/v1/sandboxes/${s.id}`);
    }
  }
  redis?.disconnect();
  await d?.close();
  await teamRx?.close();
  await opsRx?.close();
});

describe("lifecycle events from a real deployment", () => {
  it("sandbox created/paused/resumed/destroyed/failed and template created/deleted reach the team's channel, once each", async () => {
    const created = await api("POST", "/v1/sandboxes", { timeout_sec: 0 });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    expect((await event(teamRx, "sandbox.created", id)).text).toContain(id);
    expect((await api("POST", `/v1/sandboxes/${id}/pause`)).status).toBe(200);
    await event(teamRx, "sandbox.paused", id);
    expect((await api("POST", `/v1/sandboxes/${id}/resume`)).status).toBe(200);
    await event(teamRx, "sandbox.resumed", id);

    const snap = await api("POST", "/v1/snapshots", {
      sandbox_id: id,
      name: "channel-events",
      type: "snapshot",
    });
    expect(snap.status, snap.text).toBe(201);
    const tpl = snap.body.id as string;
    await event(teamRx, "template.created", tpl);

    // The template's files vanish from the host (a disk lost or cleaned by hand): a sandbox
    // started from it fails on the agent, and the team hears of it.
    await rm(await templateDir(tpl), { recursive: true, force: true });
    const broken = await api("POST", "/v1/sandboxes", { template: "channel-events", timeout_sec: 0 });
    expect(broken.status, broken.text).toBeGreaterThanOrEqual(400);
    const list = await api("GET", "/v1/sandboxes?limit=100");
    const failed = (list.body.sandboxes as { id: string; state: string }[]).find((s) => s.id !== id);
    expect(failed?.state).toBe("error");
    const failure = await event(teamRx, "sandbox.failed", failed?.id as string);
    expect(failure.text).toMatch(/^Capsule failed: sb-\S+ · template channel-events · error: /);
    // The failed sandbox's row stays (state error) until it is destroyed, which is reported too.
    expect((await api("DELETE", `/v1/sandboxes/${failed?.id}`)).status).toBe(204);
    await event(teamRx, "sandbox.destroyed", failed?.id as string);

    expect((await api("DELETE", "/v1/snapshots/channel-events")).status).toBe(204);
    await event(teamRx, "template.deleted", tpl);
    expect((await api("DELETE", `/v1/sandboxes/${id}`)).status).toBe(204);
    await event(teamRx, "sandbox.destroyed", id);

    await settled();
    expect(hooks(teamRx).map((h) => [h.type, h.resource.id])).toEqual([
      ["sandbox.created", id],
      ["sandbox.paused", id],
      ["sandbox.resumed", id],
      ["template.created", tpl],
      ["sandbox.failed", failed?.id],
      ["sandbox.destroyed", failed?.id],
      ["template.deleted", tpl],
      ["sandbox.destroyed", id],
    ]);
  });

  it("a real build reports build.succeeded and its template created; a rebuild, the old one deleted", async () => {
    const before = hooks(teamRx).length;
    const build = async () => {
      const queued = await api("POST", "/v1/builds", {
        name: "channel-built",
        recipe: "RUN echo built > /tmp/built",
        skip_pre_post: true,
      });
      expect(queued.status, queued.text).toBe(202);
      const id = queued.body.id as string;
      const done = await event(teamRx, "build.succeeded", id);
      expect(done.text).toBe(`Build succeeded: ${id} · channel-built`);
      const row = await api("GET", `/v1/builds/${id}`);
      expect(row.body.status).toBe("ready");
      const template = row.body.template_id as string;
      const created = await event(teamRx, "template.created", template);
      expect(created.text).toBe(`Template created: ${template} · channel-built · built by ${id}`);
      return { id, template };
    };
    const first = await build();
    const second = await build();
    await event(teamRx, "template.deleted", first.template);
    await settled();
    // Each once. The two events of one audit entry (build.succeeded, template.created) are
    // delivered side by side, so their order is not fixed: compared sorted.
    const sorted = (pairs: string[][]) => pairs.map((p) => p.join(" ")).sort();
    expect(
      sorted(
        hooks(teamRx)
          .slice(before)
          .map((h) => [h.type, h.resource.id]),
      ),
    ).toEqual(
      sorted([
        ["build.succeeded", first.id],
        ["template.created", first.template],
        ["template.deleted", first.template],
        ["build.succeeded", second.id],
        ["template.created", second.template],
      ]),
    );
    expect((await api("DELETE", "/v1/snapshots/channel-built")).status).toBe(204);
    await event(teamRx, "template.deleted", second.template);
  });

  it("host unreachable (agent killed), online again (agent restarted) and deleted reach the operators' channel only", async () => {
    await d.agentProcess.kill("SIGKILL");
    const down = await event(opsRx, "host.unreachable", d.hostId);
    expect(down.text).toBe(`Host unreachable: ${d.hostId}`);
    await d.agentProcess.restart();
    await event(opsRx, "host.online", d.hostId);
    const deleted = await api("DELETE", `/v1/hosts/${d.hostId}`, undefined, { token: d.adminToken });
    expect(deleted.status, deleted.text).toBe(204);
    await event(opsRx, "host.deleted", d.hostId);

    await settled();
    expect(hooks(opsRx).map((h) => [h.type, h.resource.id])).toEqual([
      ["host.unreachable", d.hostId],
      ["host.online", d.hostId],
      ["host.deleted", d.hostId],
    ]);
    // The team's own channel subscribes to every type, but shared hosts are the operators' business.
    expect(hooks(teamRx).filter((h) => h.type.startsWith("host."))).toEqual([]);
  });
});
