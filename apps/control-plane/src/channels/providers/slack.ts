import { z } from "zod";
import { webhookUrl } from "./fields.ts";
import { type ChannelProvider, jsonPost } from "./provider.ts";

/** Slack's mrkdwn needs `&`, `<` and `>` escaped. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Slack: incoming webhook, `POST {webhook_url}` with `{text}` (answers 200 `ok`). */
export const slack: ChannelProvider<{ webhook_url: string }> = {
  id: "slack",
  label: "Slack",
  fields: [
    {
      name: "webhook_url",
      label: "Incoming webhook URL",
      secret: true,
      required: true,
      description: "A Slack app's Incoming Webhooks page (https://hooks.slack.com/services/…)",
    },
  ],
  schema: z.strictObject({ webhook_url: webhookUrl }),
  request(config, m) {
    const link = m.link ? `\n<${m.link}|Open in Wrenn>` : "";
    return jsonPost(config.webhook_url, {
      text: `*${escapeMrkdwn(m.title)}*\n${escapeMrkdwn(m.text)}${link}`,
    });
  },
};
