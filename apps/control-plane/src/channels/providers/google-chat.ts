import { z } from "zod";
import { webhookUrl } from "./fields.ts";
import { type ChannelProvider, jsonPost, plainText } from "./provider.ts";

/** Google Chat: space webhook, `POST {webhook_url}` (`…/v1/spaces/…/messages?key=…&token=…`) with `{text}`. */
export const googleChat: ChannelProvider<{ webhook_url: string }> = {
  id: "google_chat",
  label: "Google Chat",
  fields: [
    {
      name: "webhook_url",
      label: "Space webhook URL",
      secret: true,
      required: true,
      description: "Space → Apps & integrations → Webhooks (https://chat.googleapis.com/v1/spaces/…)",
    },
  ],
  schema: z.strictObject({ webhook_url: webhookUrl }),
  request(config, m) {
    return jsonPost(
      config.webhook_url,
      { text: `*${m.title}*\n${plainText(m)}` },
      { "content-type": "application/json; charset=UTF-8" },
    );
  },
};
