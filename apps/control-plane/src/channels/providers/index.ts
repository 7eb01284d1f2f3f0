import { discord } from "./discord.ts";
import { googleChat } from "./google-chat.ts";
import { matrix } from "./matrix.ts";
import type { ChannelProvider } from "./provider.ts";
import { slack } from "./slack.ts";
import { teams } from "./teams.ts";
import { telegram } from "./telegram.ts";
import { webhook } from "./webhook.ts";

/** The provider catalogue: one entry per supported service, keyed by its id. */
export const providers = {
  discord,
  slack,
  teams,
  google_chat: googleChat,
  telegram,
  matrix,
  webhook,
} as const satisfies Record<string, Pick<ChannelProvider, "id" | "label" | "fields">>;

/** A provider id (`slack`, `matrix`, …). */
export type ProviderId = keyof typeof providers;

/** Every provider id, in catalogue order. */
export const providerIds = Object.keys(providers) as ProviderId[];

/** The provider with this id (as the generic interface), or undefined. */
export function findProvider(id: string): ChannelProvider | undefined {
  return Object.hasOwn(providers, id)
    ? (providers[id as ProviderId] as unknown as ChannelProvider)
    : undefined;
}

export type { ChannelProvider, ProviderField } from "./provider.ts";
