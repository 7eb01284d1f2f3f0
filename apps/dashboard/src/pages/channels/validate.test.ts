import { describe, expect, it } from "vitest";
import type { Provider } from "../../api/channels.ts";
import { channelState, configFor, draftProblems } from "./validate.ts";

const providers: Provider[] = [
  {
    id: "telegram",
    label: "Telegram",
    fields: [
      { name: "bot_token", label: "Bot token", secret: true, required: true, description: "" },
      { name: "chat_id", label: "Chat ID", secret: false, required: true, description: "" },
      { name: "api_url", label: "Bot API server", secret: false, required: false, description: "" },
    ],
  },
];

describe("channel form", () => {
  it("needs a name, a provider, required fields, http(s) URLs and an event", () => {
    expect(draftProblems({ name: "", provider: "", config: {}, events: [] }, providers)).toEqual({
      name: "Give the channel a name",
      provider: "Choose where to send notifications",
    });
    expect(
      draftProblems(
        { name: "ops", provider: "telegram", config: { api_url: "ftp://x" }, events: [] },
        providers,
      ),
    ).toEqual({
      bot_token: "Bot token is required",
      chat_id: "Chat ID is required",
      api_url: "Must be an http(s) URL",
      events: "Pick at least one event",
    });
    expect(
      draftProblems(
        {
          name: "ops",
          provider: "telegram",
          config: { bot_token: "1:a", chat_id: "42" },
          events: ["sandbox.created"],
        },
        providers,
      ),
    ).toEqual({});
  });

  it("sends only the provider's fields, trimmed, without empty optional ones", () => {
    const p = providers[0] as Provider;
    expect(
      configFor(
        {
          name: "x",
          provider: "telegram",
          config: { bot_token: " t ", chat_id: "1", api_url: "", other: "z" },
          events: [],
        },
        p,
      ),
    ).toEqual({ bot_token: "t", chat_id: "1" });
  });

  it("names the channel's state", () => {
    expect(channelState({ enabled: true, disabled_reason: "" }).label).toBe("enabled");
    expect(channelState({ enabled: false, disabled_reason: "user" }).label).toBe("disabled");
    expect(channelState({ enabled: false, disabled_reason: "auto: 10 failures" }).tone).toBe("red");
  });
});
