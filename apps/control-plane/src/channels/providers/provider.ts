import type { z } from "zod";
import type { ChannelMessage } from "../events.ts";
import type { OutboundRequest, OutboundResponse } from "../outbound.ts";

/** One field of a provider's configuration form (what the dashboard renders). */
export interface ProviderField {
  name: string;
  label: string;
  /** Secret fields are encrypted at rest and masked in every answer. */
  secret: boolean;
  required: boolean;
  description: string;
}

/**
 * A notification service: how its configuration looks and how one message becomes the one HTTP
 * request its API expects. Delivery (SSRF policy, timeouts, retries) is not the provider's concern.
 */
export interface ChannelProvider<C extends Record<string, string> = Record<string, string>> {
  id: string;
  label: string;
  fields: ProviderField[];
  /** Validates a config (unknown keys rejected); messages name the field, never its value. */
  schema: z.ZodType<C>;
  /** The request that posts `message` (`config` is decrypted; keep it out of errors and logs). */
  request(config: C, message: ChannelMessage): OutboundRequest;
  /** Whether an HTTP answer means the service accepted the message (default: any 2xx). */
  accepted?(res: OutboundResponse): boolean;
}

/** The message as plain text: title, details, link. */
export function plainText(m: ChannelMessage): string {
  return [m.text, m.link].filter(Boolean).join("\n");
}

/** A JSON POST. */
export function jsonPost(url: string, body: unknown, headers: Record<string, string> = {}): OutboundRequest {
  return {
    url,
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}
