import type { Provider } from "../../api/channels.ts";

/** The create form's values. */
export interface ChannelDraft {
  name: string;
  provider: string;
  config: Record<string, string>;
  events: string[];
}

/** Problems keyed by `name`, `provider`, `events` or a config field's name; empty when it can be sent. */
export type DraftProblems = Record<string, string>;

/**
 * What is wrong with a draft before it is sent: a name, a known provider, every required field,
 * URLs that are http(s), and at least one event. The server checks again (and reaches the service
 * when testing); this only saves a round trip for the obvious.
 */
export function draftProblems(d: ChannelDraft, providers: Provider[]): DraftProblems {
  const out: DraftProblems = {};
  const name = d.name.trim();
  if (!name) out.name = "Give the channel a name";
  else if (name.length > 100) out.name = "At most 100 characters";
  const provider = providers.find((p) => p.id === d.provider);
  if (!provider) {
    out.provider = "Choose where to send notifications";
    return out;
  }
  for (const f of provider.fields) {
    const v = (d.config[f.name] ?? "").trim();
    if (!v) {
      if (f.required) out[f.name] = `${f.label} is required`;
      continue;
    }
    if (/url$/i.test(f.name) && !/^https?:\/\/\S+$/i.test(v)) out[f.name] = "Must be an http(s) URL";
  }
  if (d.events.length === 0) out.events = "Pick at least one event";
  return out;
}

/** Only the provider's own fields, trimmed, empty optional ones left out (the API refuses unknown fields). */
export function configFor(d: ChannelDraft, provider: Provider): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of provider.fields) {
    const v = (d.config[f.name] ?? "").trim();
    if (v) out[f.name] = v;
  }
  return out;
}

/** A channel's state in words: enabled, disabled by a user, or switched off after failures. */
export function channelState(c: { enabled: boolean; disabled_reason: string }): {
  label: string;
  tone: "green" | "grey" | "red";
} {
  if (c.enabled) return { label: "enabled", tone: "green" };
  if (c.disabled_reason.startsWith("auto")) return { label: "auto-disabled", tone: "red" };
  return { label: "disabled", tone: "grey" };
}
