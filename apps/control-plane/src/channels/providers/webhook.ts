import { createHmac } from "node:crypto";
import { z } from "zod";
import { webhookUrl } from "./fields.ts";
import type { ChannelProvider } from "./provider.ts";

/** Header with `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`. */
export const SIGNATURE_HEADER = "X-WRENN-SIGNATURE";
/** Header with the signing time in Unix seconds (part of the signed text, so it cannot be changed). */
export const TIMESTAMP_HEADER = "X-WRENN-TIMESTAMP";

/** The signature value for `body` sent at `timestamp` (Unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * Generic webhook: `POST {url}` with the event as JSON, signed with the channel's secret so the
 * receiver can prove it came from this Wrenn and is fresh (see the README's verification recipe).
 */
export const webhook: ChannelProvider<{ url: string; secret: string }> = {
  id: "webhook",
  label: "Webhook",
  fields: [
    {
      name: "url",
      label: "URL",
      // URLs often carry a token in their path or query.
      secret: true,
      required: true,
      description: "Receives a JSON POST per event",
    },
    {
      name: "secret",
      label: "Signing secret",
      secret: true,
      required: true,
      description: "At least 16 characters; the receiver checks X-WRENN-SIGNATURE with it",
    },
  ],
  schema: z.strictObject({ url: webhookUrl, secret: z.string().min(16).max(256) }),
  request(config, m) {
    const e = m.event;
    const body = JSON.stringify({
      id: e.id,
      type: e.type,
      occurred_at: e.occurredAt,
      team_id: e.teamId === null ? null : `team-${e.teamId}`,
      resource: { type: e.resourceType, id: e.resourceId },
      actor: e.actor,
      title: m.title,
      text: m.text,
      url: m.link ?? null,
      details: e.details,
    });
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      url: config.url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: webhookSignature(config.secret, timestamp, body),
        [TIMESTAMP_HEADER]: String(timestamp),
        "X-WRENN-EVENT": e.type,
        "X-WRENN-DELIVERY": e.id,
      },
      body,
    };
  },
};
