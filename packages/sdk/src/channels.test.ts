import { createHmac } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { generateEncryptionKey } from "@wrenn/control-plane";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { type ReceivedRequest, type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Channels } from "./channels.ts";
import { InvalidArgumentError, NotFoundError } from "./errors.ts";

// The SDK's Channels against a real control plane (PostgreSQL, Redis) served on loopback. The
// receiver stands in for a team's webhook endpoint (external services are unreachable here).

let t: TestApp;
let server: ReturnType<typeof serve>;
let receiver: Receiver;
let apiUrl: string;
const SECRET = "sdk-signing-secret-0123456789";
const ROTATED = "sdk-rotated-secret-9876543210";

async function keyOfNewTeam(): Promise<string> {
  const owner = await signupUser(t.app);
  return (await call(t.app, "POST", "/v1/api-keys", { token: owner.token, body: { name: "sdk" } })).body.key;
}

function signedWith(secret: string, req: ReceivedRequest): boolean {
  const ts = req.headers["x-wrenn-timestamp"];
  const want = `v1=${createHmac("sha256", secret).update(`${ts}.${req.body}`).digest("hex")}`;
  return req.headers["x-wrenn-signature"] === want;
}

beforeAll(async () => {
  t = await createTestApp({
    env: { WRENN_ENCRYPTION_KEY: generateEncryptionKey(), WRENN_CHANNELS_ALLOW_PRIVATE: "127.0.0.1/32" },
  });
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver = await startReceiver({
    respond: (req, res) => {
      res.writeHead(req.path.includes("broken") ? 500 : 204);
      res.end();
    },
  });
}, 60_000);

afterAll(async () => {
  server?.close();
  await receiver?.close();
  await t?.cleanup();
});

describe("Channels (SDK)", () => {
  it("catalogue, test before saving, create, list, get, update, rotate, test saved, deliveries, delete", async () => {
    const c = { apiKey: await keyOfNewTeam(), apiUrl };
    const catalog = await Channels.catalog(c);
    expect(catalog.providers.map((p) => p.id)).toContain("webhook");
    expect(catalog.events.map((e) => e.type)).toContain("sandbox.auto_paused");

    const config = { url: `${receiver.url}/sdk`, secret: SECRET };
    expect(await Channels.test({ ...c, provider: "webhook", config, name: "sdk" })).toEqual({
      ok: true,
      status: 204,
    });
    expect(signedWith(SECRET, receiver.requests.at(-1) as ReceivedRequest)).toBe(true);
    expect(
      await Channels.test({
        ...c,
        provider: "webhook",
        config: { ...config, url: `${receiver.url}/broken` },
      }),
    ).toEqual({ ok: false, error: "Webhook answered HTTP 500" });

    const created = await Channels.create({
      ...c,
      name: "sdk hook",
      provider: "webhook",
      config,
      events: ["sandbox.auto_paused", "build.failed"],
    });
    expect(created).toMatchObject({
      name: "sdk hook",
      provider: "webhook",
      events: ["sandbox.auto_paused", "build.failed"],
      config: { url: "••••/sdk", secret: "••••6789" },
      enabled: true,
      lastDelivery: null,
      consecutiveFailures: 0,
    });
    expect(created.channelId).toMatch(/^ch-/);
    expect(created.createdAt).toBeInstanceOf(Date);
    expect((await Channels.list(c)).map((ch) => ch.channelId)).toEqual([created.channelId]);
    expect(await Channels.get(created.channelId, c)).toMatchObject({ name: "sdk hook" });

    const updated = await Channels.update(
      created.channelId,
      { name: "renamed", events: ["host.unreachable"], enabled: false },
      c,
    );
    expect(updated).toMatchObject({ name: "renamed", events: ["host.unreachable"], enabled: false });
    expect(updated.disabledReason).toBe("user");
    await Channels.update(created.channelId, { enabled: true }, c);

    const rotated = await Channels.rotateConfig(created.channelId, { secret: ROTATED }, c);
    expect(rotated.config).toEqual({ url: "••••/sdk", secret: "••••3210" });
    expect(await Channels.testSaved(created.channelId, c)).toEqual({ ok: true, status: 204 });
    const last = receiver.requests.at(-1) as ReceivedRequest;
    expect(last.path).toBe("/sdk");
    expect(signedWith(ROTATED, last)).toBe(true);
    expect(signedWith(SECRET, last)).toBe(false);

    expect(await Channels.deliveries(created.channelId, { ...c, limit: 5 })).toEqual([]);
    await Channels.delete(created.channelId, c);
    expect(await Channels.list(c)).toEqual([]);
    await expect(Channels.get(created.channelId, c)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("answers another team's channel as not found, and a bad config as an invalid argument", async () => {
    const a = { apiKey: await keyOfNewTeam(), apiUrl };
    const b = { apiKey: await keyOfNewTeam(), apiUrl };
    const ch = await Channels.create({
      ...a,
      name: "a's",
      provider: "slack",
      config: { webhook_url: `${receiver.url}/services/T/B/a` },
    });
    for (const attempt of [
      () => Channels.get(ch.channelId, b),
      () => Channels.testSaved(ch.channelId, b),
      () => Channels.rotateConfig(ch.channelId, { webhook_url: `${receiver.url}/steal` }, b),
      () => Channels.update(ch.channelId, { enabled: false }, b),
      () => Channels.deliveries(ch.channelId, b),
      () => Channels.delete(ch.channelId, b),
    ]) {
      await expect(attempt()).rejects.toBeInstanceOf(NotFoundError);
    }
    expect(await Channels.list(b)).toEqual([]);
    expect((await Channels.get(ch.channelId, a)).enabled).toBe(true);
    await expect(
      Channels.create({ ...a, name: "bad", provider: "slack", config: { webhook_url: "ftp://x" } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      Channels.create({ ...a, name: "bad", provider: "carrier-pigeon", config: {} }),
    ).rejects.toThrow(/provider must be one of/);
  });
});
