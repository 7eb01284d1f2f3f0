import { z } from "zod";
import { text, webhookUrl } from "./fields.ts";
import { type ChannelProvider, jsonPost, plainText } from "./provider.ts";

const TELEGRAM_API = "https://api.telegram.org";
/** sendMessage accepts 1-4096 characters of text. */
const TELEGRAM_TEXT_MAX = 4096;

/** Telegram: Bot API `POST {api_url}/bot{token}/sendMessage` with `{chat_id, text}`; answers `{ok: true}`. */
export const telegram: ChannelProvider<{ bot_token: string; chat_id: string; api_url?: string }> = {
  id: "telegram",
  label: "Telegram",
  fields: [
    { name: "bot_token", label: "Bot token", secret: true, required: true, description: "From @BotFather" },
    {
      name: "chat_id",
      label: "Chat ID",
      secret: false,
      required: true,
      description: "Numeric chat id, or @channelusername",
    },
    {
      name: "api_url",
      label: "Bot API server",
      secret: false,
      required: false,
      description: `A self-hosted Bot API server (default ${TELEGRAM_API})`,
    },
  ],
  schema: z.strictObject({
    bot_token: z
      .string()
      .trim()
      .regex(/^\d+:[A-Za-z0-9_-]+$/, "must look like 123456:ABC-DEF… (from @BotFather)"),
    chat_id: text(128).regex(/^(-?\d+|@[A-Za-z0-9_]{4,})$/, "must be a numeric chat id or @channelusername"),
    api_url: webhookUrl.optional(),
  }),
  request(config, m) {
    const base = (config.api_url ?? TELEGRAM_API).replace(/\/+$/, "");
    return jsonPost(`${base}/bot${config.bot_token}/sendMessage`, {
      chat_id: config.chat_id,
      text: `${m.title}\n${plainText(m)}`.slice(0, TELEGRAM_TEXT_MAX),
      link_preview_options: { is_disabled: true },
    });
  },
  accepted(res) {
    if (res.status < 200 || res.status >= 300) return false;
    try {
      return (JSON.parse(res.body) as { ok?: unknown }).ok === true;
    } catch {
      return false;
    }
  },
};
