import { z } from "zod";
import { webhookUrl } from "./fields.ts";
import { type ChannelProvider, jsonPost } from "./provider.ts";

/** Discord's execute-webhook endpoint accepts at most 2000 characters of `content`. */
const DISCORD_CONTENT_MAX = 2000;

/** Discord: `POST {webhook_url}` with `{content}` (Execute Webhook; answers 204). */
export const discord: ChannelProvider<{ webhook_url: string }> = {
  id: "discord",
  label: "Discord",
  fields: [
    {
      name: "webhook_url",
      label: "Webhook URL",
      secret: true,
      required: true,
      description: "Server Settings → Integrations → Webhooks → Copy Webhook URL",
    },
  ],
  schema: z.strictObject({ webhook_url: webhookUrl }),
  request(config, m) {
    const content = [`**${m.title}**`, m.text, m.link ? `<${m.link}>` : ""].filter(Boolean).join("\n");
    return jsonPost(config.webhook_url, {
      content: content.slice(0, DISCORD_CONTENT_MAX),
      username: "Wrenn",
      // Event text is never meant to ping anyone.
      allowed_mentions: { parse: [] },
    });
  },
};
