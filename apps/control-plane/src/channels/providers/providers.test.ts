import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Receiver, startReceiver } from "@wrenn/testing/receiver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendOnce } from "../delivery.ts";
import { type LifecycleEvent, renderMessage } from "../events.ts";
import { OutboundClient } from "../outbound.ts";
import { findProvider, providerIds, providers } from "./index.ts";

// Every receiver below is a loopback HTTP server standing in for the real service (Discord,
// Slack, Teams, Google Chat, Telegram, a Matrix homeserver, a webhook consumer): those cannot be
// reached from the test machine. Each one checks the exact request that service's API expects.

const event: LifecycleEvent & { id: string } = {
  id: "1765000000000-0",
  type: "sandbox.auto_paused",
  teamId: "11111111-1111-1111-1111-111111111111",
  resourceId: "sb-22222222-2222-2222-2222-222222222222",
  resourceType: "sandbox",
  actor: "system",
  occurredAt: "2026-12-07T05:00:00.000Z",
  details: { reason: "inactivity timeout" },
};
const message = renderMessage(event, "https://wrenn.example.com");
const outbound = new OutboundClient({ allowPrivate: ["127.0.0.1/32"], timeoutMs: 3000 });

type VerifyWrenn = (
  secret: string,
  headers: Record<string, unknown>,
  rawBody: string,
  now?: number,
) => boolean;

/**
 * The webhook verification recipe as the control plane README prints it: its ```js block is
 * written to a module and imported, so the documented code is what the test runs.
 */
async function readmeRecipe(): Promise<VerifyWrenn> {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const block = [...readme.matchAll(/```js\n([\s\S]*?)\n```/g)]
    .map((m) => m[1])
    .find((code) => code?.includes("function verifyWrenn"));
  if (!block) throw new Error("the README has no ```js block with verifyWrenn");
  const dir = await mkdtemp(join(tmpdir(), "wrenn-recipe-"));
  try {
    const file = join(dir, "verify.mjs");
    await writeFile(file, `${block}\nexport { verifyWrenn };\n`);
    return ((await import(file)) as { verifyWrenn: VerifyWrenn }).verifyWrenn;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let rx: Receiver;
let verifyWrenn: VerifyWrenn;
beforeAll(async () => {
  rx = await startReceiver();
  verifyWrenn = await readmeRecipe();
});
afterAll(async () => {
  await rx.close();
});

async function deliver(providerId: string, config: Record<string, string>) {
  const before = rx.requests.length;
  const provider = findProvider(providerId);
  if (!provider) throw new Error(providerId);
  const result = await sendOnce(outbound, provider, provider.schema.parse(config), message);
  const req = rx.requests[before];
  if (!req) throw new Error("no request received");
  return { result, req };
}

describe("channel providers", () => {
  it("renders a short message linking to the dashboard page of the resource", () => {
    expect(message.title).toBe("Capsule auto-paused");
    expect(message.text).toBe(`Capsule auto-paused: ${event.resourceId} · inactivity timeout`);
    expect(message.link).toBe(`https://wrenn.example.com/capsules/${event.resourceId}`);
  });

  it("Discord: POST to the webhook URL with {content}, no mentions", async () => {
    const { result, req } = await deliver("discord", { webhook_url: `${rx.url}/api/webhooks/123/tok` });
    expect(result).toEqual({ ok: true, status: 200 });
    expect(req).toMatchObject({ method: "POST", path: "/api/webhooks/123/tok" });
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.json).toEqual({
      content: `**Capsule auto-paused**\n${message.text}\n<${message.link}>`,
      username: "Wrenn",
      allowed_mentions: { parse: [] },
    });
  });

  it("Slack: POST {text} in mrkdwn with an escaped text and a <link|label>", async () => {
    const { req } = await deliver("slack", { webhook_url: `${rx.url}/services/T0/B0/xyz` });
    expect(req).toMatchObject({ method: "POST", path: "/services/T0/B0/xyz" });
    expect(req.json).toEqual({
      text: `*Capsule auto-paused*\n${message.text}\n<${message.link}|Open in Wrenn>`,
    });
  });

  it("Microsoft Teams: a message with one Adaptive Card attachment", async () => {
    const { req } = await deliver("teams", { webhook_url: `${rx.url}/workflows/abc?sig=s` });
    expect(req).toMatchObject({ method: "POST", path: "/workflows/abc?sig=s" });
    expect(req.json).toEqual({
      type: "message",
      attachments: [
        {
          contentType: "application/vnd.microsoft.card.adaptive",
          contentUrl: null,
          content: {
            $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
            type: "AdaptiveCard",
            version: "1.2",
            body: [
              {
                type: "TextBlock",
                text: "Capsule auto-paused",
                weight: "Bolder",
                size: "Medium",
                wrap: true,
              },
              { type: "TextBlock", text: message.text, wrap: true },
            ],
            actions: [{ type: "Action.OpenUrl", title: "Open in Wrenn", url: message.link }],
          },
        },
      ],
    });
  });

  it("Google Chat: POST {text} with a UTF-8 JSON content type", async () => {
    const { req } = await deliver("google_chat", {
      webhook_url: `${rx.url}/v1/spaces/AAA/messages?key=k&token=t`,
    });
    expect(req).toMatchObject({ method: "POST", path: "/v1/spaces/AAA/messages?key=k&token=t" });
    expect(req.headers["content-type"]).toBe("application/json; charset=UTF-8");
    expect(req.json).toEqual({ text: `*Capsule auto-paused*\n${message.text}\n${message.link}` });
  });

  it("Telegram: POST /bot<token>/sendMessage with {chat_id, text}; an {ok:false} answer is a failure", async () => {
    const tg = await startReceiver({ body: JSON.stringify({ ok: true, result: { message_id: 1 } }) });
    try {
      const provider = providers.telegram as unknown as NonNullable<ReturnType<typeof findProvider>>;
      const config = { bot_token: "123456:ABC-def_GHI", chat_id: "-1001234", api_url: tg.url };
      expect(await sendOnce(outbound, provider, config, message)).toEqual({ ok: true, status: 200 });
      expect(tg.requests[0]).toMatchObject({ method: "POST", path: "/bot123456:ABC-def_GHI/sendMessage" });
      expect(tg.requests[0]?.json).toEqual({
        chat_id: "-1001234",
        text: `Capsule auto-paused\n${message.text}\n${message.link}`,
        link_preview_options: { is_disabled: true },
      });
    } finally {
      await tg.close();
    }
    const refusing = await startReceiver({
      body: JSON.stringify({ ok: false, description: "chat not found" }),
    });
    try {
      const provider = findProvider("telegram");
      if (!provider) throw new Error("telegram");
      const r = await sendOnce(
        outbound,
        provider,
        { bot_token: "1:a", chat_id: "1", api_url: refusing.url },
        message,
      );
      expect(r.ok).toBe(false);
    } finally {
      await refusing.close();
    }
    expect(() => providers.telegram.schema.parse({ bot_token: "nope", chat_id: "1" })).toThrow();
  });

  it("Matrix: PUT …/rooms/{roomId}/send/m.room.message/{txnId} with a bearer token; the txn id is stable per event", async () => {
    const config = {
      homeserver_url: `${rx.url}/`,
      access_token: "syt_secret_token",
      room_id: "!room:example.org",
    };
    const first = await deliver("matrix", config);
    const again = await deliver("matrix", config);
    expect(first.req.method).toBe("PUT");
    expect(first.req.path).toMatch(
      /^\/_matrix\/client\/v3\/rooms\/!room%3Aexample\.org\/send\/m\.room\.message\/wrenn-[0-9a-f]{32}$/,
    );
    // A retry of the same event reuses the transaction id, so the homeserver de-duplicates it.
    expect(again.req.path).toBe(first.req.path);
    expect(first.req.headers.authorization).toBe("Bearer syt_secret_token");
    expect(first.req.json).toEqual({
      msgtype: "m.notice",
      body: `Capsule auto-paused\n${message.text}\n${message.link}`,
    });
  });

  it("webhook: signed JSON that an independent check verifies; tampered and replayed requests fail the recipe", async () => {
    const secret = "whsec-0123456789abcdef";
    const { req } = await deliver("webhook", { url: `${rx.url}/hooks/wrenn`, secret });
    expect(req).toMatchObject({ method: "POST", path: "/hooks/wrenn" });
    expect(req.json).toEqual({
      id: event.id,
      type: "sandbox.auto_paused",
      occurred_at: event.occurredAt,
      team_id: `team-${event.teamId}`,
      resource: { type: "sandbox", id: event.resourceId },
      actor: "system",
      title: "Capsule auto-paused",
      text: message.text,
      url: message.link,
      details: { reason: "inactivity timeout" },
    });
    expect(req.headers["x-wrenn-event"]).toBe("sandbox.auto_paused");
    expect(req.headers["x-wrenn-delivery"]).toBe(event.id);

    // The README's recipe itself (its code block, run as written): node:crypto only, no Wrenn code.
    const verify = (headers: Record<string, unknown>, body: string, now?: number) =>
      verifyWrenn(secret, headers, body, now);
    expect(verify(req.headers, req.body)).toBe(true);
    expect(verify(req.headers, req.body.replace("auto_paused", "destroyed"))).toBe(false);
    expect(
      verify(
        { ...req.headers, "x-wrenn-timestamp": String(Number(req.headers["x-wrenn-timestamp"]) + 1) },
        req.body,
      ),
    ).toBe(false);
    // Replayed ten minutes later: the timestamp is outside the window.
    expect(verify(req.headers, req.body, Date.now() / 1000 + 600)).toBe(false);
    // Another secret, a missing signature or timestamp.
    expect(verifyWrenn("whsec-another-secret-000", req.headers, req.body)).toBe(false);
    expect(verify({ ...req.headers, "x-wrenn-signature": undefined }, req.body)).toBe(false);
    expect(verify({ ...req.headers, "x-wrenn-timestamp": undefined }, req.body)).toBe(false);
  });

  it("every provider in the catalogue has a matching id, a label and at least one secret field", () => {
    for (const id of providerIds) {
      const p = providers[id];
      expect(p.id).toBe(id);
      expect(p.label).not.toBe("");
      expect(p.fields.some((f) => f.secret)).toBe(true);
    }
  });
});

describe("outbound safety", () => {
  it("refuses loopback, private and link-local targets unless allowed, also behind a DNS name", async () => {
    const strict = new OutboundClient({ timeoutMs: 2000 });
    const before = rx.requests.length;
    for (const url of [
      `${rx.url}/x`,
      "http://10.1.2.3/x",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]:9/x",
      "http://[::ffff:127.0.0.1]:9/x",
      "http://localhost:9/x",
    ]) {
      await expect(strict.send({ url, body: "{}" }), url).rejects.toThrow(/private\/loopback\/link-local/);
    }
    // Refused before connecting: the loopback receiver saw nothing.
    expect(rx.requests.length).toBe(before);
  });

  it("follows a redirect on the same origin but not to another host", async () => {
    const hop = await startReceiver({
      respond: (req, res) => {
        if (req.path === "/start") res.writeHead(302, { location: "/end" }).end();
        else if (req.path === "/away") res.writeHead(302, { location: "http://127.0.0.2:9/steal" }).end();
        else res.writeHead(204).end();
      },
    });
    try {
      const client = new OutboundClient({ allowPrivate: ["127.0.0.0/8"] });
      expect((await client.send({ url: `${hop.url}/start`, body: "{}" })).status).toBe(204);
      await expect(client.send({ url: `${hop.url}/away`, body: "{}" })).rejects.toThrow(
        /redirect to another host/,
      );
    } finally {
      await hop.close();
    }
  });

  it("gives up after the timeout and cuts large answers at the size limit", async () => {
    const slow = await startReceiver({
      respond: (req, res) => {
        if (req.path === "/big") res.writeHead(200).end("x".repeat(200_000));
        // /slow never answers.
      },
    });
    try {
      const client = new OutboundClient({
        allowPrivate: ["127.0.0.1"],
        timeoutMs: 300,
        maxResponseBytes: 1024,
      });
      const started = Date.now();
      await expect(client.send({ url: `${slow.url}/slow`, body: "{}" })).rejects.toThrow(
        /timed out after 300 ms/,
      );
      expect(Date.now() - started).toBeLessThan(2000);
      const big = await client.send({ url: `${slow.url}/big`, body: "{}" });
      expect(big.body.length).toBeLessThanOrEqual(1024);
    } finally {
      await slow.close();
    }
  });

  it("never puts the URL (which may hold a token) into an error", async () => {
    const provider = findProvider("discord");
    if (!provider) throw new Error("discord");
    const strict = new OutboundClient({ timeoutMs: 1000 });
    const r = await sendOnce(
      strict,
      provider,
      { webhook_url: "http://127.0.0.1:9/api/webhooks/1/SECRET-TOKEN" },
      message,
    );
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain("SECRET-TOKEN");
    const closed = new OutboundClient({ timeoutMs: 1000, allowPrivate: ["*"] });
    const r2 = await sendOnce(
      closed,
      provider,
      { webhook_url: "http://127.0.0.1:9/api/webhooks/1/SECRET-TOKEN" },
      message,
    );
    expect(r2).toMatchObject({ ok: false, retryable: true });
    expect(JSON.stringify(r2)).not.toContain("SECRET-TOKEN");
  });
});
