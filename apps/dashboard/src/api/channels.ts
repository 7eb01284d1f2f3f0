import { api } from "./client.ts";

/** One config field of a provider. */
export interface ProviderField {
  name: string;
  label: string;
  /** Stored encrypted and shown masked; typed into a password field. */
  secret: boolean;
  required: boolean;
  description: string;
}

/** A notification provider (Slack, Discord, webhook, …). */
export interface Provider {
  id: string;
  label: string;
  fields: ProviderField[];
}

/** An event type a channel can subscribe to. */
export interface ChannelEventType {
  type: string;
  title: string;
  description: string;
}

/** `GET /v1/channels/providers`. */
export interface ChannelCatalog {
  providers: Provider[];
  events: ChannelEventType[];
}

/** A channel as listed (secret config fields masked). */
export interface Channel {
  id: string;
  name: string;
  provider: string;
  events: string[];
  config: Record<string, string>;
  enabled: boolean;
  /** '' while enabled; 'user' or 'auto: …'. */
  disabled_reason: string;
  last_delivery: { status: "delivered" | "failed"; at: string; error: string } | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

/** One delivery of an event through a channel. */
export interface Delivery {
  event_id: string;
  event_type: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  last_error: string;
  created_at: string;
  updated_at: string;
}

/** Whether a test message was accepted. */
export interface TestResult {
  ok: boolean;
  status?: number;
  error?: string;
}

/** What a new channel needs. */
export interface NewChannel {
  name: string;
  provider: string;
  config: Record<string, string>;
  events: string[];
}

const ch = (id: string) => `/v1/channels/${encodeURIComponent(id)}`;

/** The providers with their fields, and the event types. */
export function getChannelCatalog(): Promise<ChannelCatalog> {
  return api("GET", "/v1/channels/providers");
}

/** The team's channels. */
export async function listChannels(): Promise<Channel[]> {
  return (await api<{ channels: Channel[] }>("GET", "/v1/channels")).channels;
}

/** Creates a channel (admins and owners). */
export function createChannel(body: NewChannel): Promise<Channel> {
  return api("POST", "/v1/channels", { body });
}

/** Sends a test message with a config that is not saved yet. */
export function testChannelConfig(body: Omit<NewChannel, "events">): Promise<TestResult> {
  return api("POST", "/v1/channels/test", { body });
}

/** Renames, changes events, or disables/re-enables a channel. */
export function updateChannel(
  id: string,
  body: { name?: string; events?: string[]; enabled?: boolean },
): Promise<Channel> {
  return api("PATCH", ch(id), { body });
}

/** Sends a test message through a saved channel. */
export function testChannel(id: string): Promise<TestResult> {
  return api("POST", `${ch(id)}/test`);
}

/** The channel's latest deliveries. */
export async function listDeliveries(id: string): Promise<Delivery[]> {
  return (await api<{ deliveries: Delivery[] }>("GET", `${ch(id)}/deliveries`, { query: { limit: 20 } }))
    .deliveries;
}

/** Deletes a channel. */
export function deleteChannel(id: string): Promise<void> {
  return api("DELETE", ch(id));
}
