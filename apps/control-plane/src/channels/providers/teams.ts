import { z } from "zod";
import { webhookUrl } from "./fields.ts";
import { type ChannelProvider, jsonPost } from "./provider.ts";

/**
 * Microsoft Teams: a Workflows "When a Teams webhook request is received" URL (or a legacy
 * incoming webhook), `POST` of a `message` with one Adaptive Card attachment — the format both accept.
 */
export const teams: ChannelProvider<{ webhook_url: string }> = {
  id: "teams",
  label: "Microsoft Teams",
  fields: [
    {
      name: "webhook_url",
      label: "Workflow webhook URL",
      secret: true,
      required: true,
      description: "Teams channel → Workflows → 'Post to a channel when a webhook request is received'",
    },
  ],
  schema: z.strictObject({ webhook_url: webhookUrl }),
  request(config, m) {
    const body: unknown[] = [
      { type: "TextBlock", text: m.title, weight: "Bolder", size: "Medium", wrap: true },
      { type: "TextBlock", text: m.text, wrap: true },
    ];
    const card = {
      $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
      type: "AdaptiveCard",
      version: "1.2",
      body,
      ...(m.link ? { actions: [{ type: "Action.OpenUrl", title: "Open in Wrenn", url: m.link }] } : {}),
    };
    return jsonPost(config.webhook_url, {
      type: "message",
      attachments: [
        { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
      ],
    });
  },
};
