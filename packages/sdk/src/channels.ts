import { ApiClient } from "./client/http.ts";
import { type ConnectionOptions, resolveConfig } from "./config.ts";

/** A provider's config field (what a form for it shows). */
export interface ChannelProviderField {
  name: string;
  label: string;
  /** Encrypted at rest and masked in every answer. */
  secret: boolean;
  required: boolean;
  description: string;
}

/** What `GET /v1/channels/providers` answers. */
export interface ChannelCatalog {
  providers: { id: string; label: string; fields: ChannelProviderField[] }[];
  events: { type: string; title: string; description: string }[];
}

/** A notification channel (secret config fields masked). */
export interface ChannelInfo {
  /** `ch-…` */
  channelId: string;
  name: string;
  provider: string;
  events: string[];
  config: Record<string, string>;
  enabled: boolean;
  /** `''` while enabled; `user`, or `auto: …` after repeated failed deliveries. */
  disabledReason: string;
  lastDelivery: { status: "delivered" | "failed"; at: Date; error: string } | null;
  consecutiveFailures: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One event's delivery to a channel. */
export interface ChannelDeliveryInfo {
  eventId: string;
  eventType: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastError: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Whether a test message was accepted by the service. */
export type ChannelTestResult = { ok: true; status: number } | { ok: false; error: string };

/** What {@link Channels.create} takes. */
export interface ChannelCreateOptions extends ConnectionOptions {
  name: string;
  /** A provider id from {@link Channels.catalog} (`slack`, `webhook`, …). */
  provider: string;
  config: Record<string, string>;
  /** Event types (default: all). */
  events?: string[];
}

interface ChannelWire {
  id: string;
  name: string;
  provider: string;
  events: string[];
  config: Record<string, string>;
  enabled: boolean;
  disabled_reason: string;
  last_delivery: { status: "delivered" | "failed"; at: string; error: string } | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

interface DeliveryWire {
  event_id: string;
  event_type: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  last_error: string;
  created_at: string;
  updated_at: string;
}

function channelOf(w: ChannelWire): ChannelInfo {
  return {
    channelId: w.id,
    name: w.name,
    provider: w.provider,
    events: w.events,
    config: w.config,
    enabled: w.enabled,
    disabledReason: w.disabled_reason,
    lastDelivery: w.last_delivery ? { ...w.last_delivery, at: new Date(w.last_delivery.at) } : null,
    consecutiveFailures: w.consecutive_failures,
    createdAt: new Date(w.created_at),
    updatedAt: new Date(w.updated_at),
  };
}

const path = (id: string) => `/v1/channels/${encodeURIComponent(id)}`;

/**
 * Notification channels of the key's team: Slack, Discord, Teams, Google Chat, Telegram, Matrix or
 * a signed webhook, told about lifecycle events (auto-pauses, failed builds, unreachable hosts…).
 * Reading needs any key; changing needs a key created by a team admin or owner.
 */
export const Channels = {
  /** The providers with their config fields, and the event types. */
  async catalog(options: ConnectionOptions = {}): Promise<ChannelCatalog> {
    return new ApiClient(resolveConfig(options)).request<ChannelCatalog>("GET", "/v1/channels/providers");
  },

  /** The team's channels. */
  async list(options: ConnectionOptions = {}): Promise<ChannelInfo[]> {
    const { channels } = await new ApiClient(resolveConfig(options)).request<{ channels: ChannelWire[] }>(
      "GET",
      "/v1/channels",
    );
    return channels.map(channelOf);
  },

  /** One channel. */
  async get(channelId: string, options: ConnectionOptions = {}): Promise<ChannelInfo> {
    return channelOf(
      await new ApiClient(resolveConfig(options)).request<ChannelWire>("GET", path(channelId)),
    );
  },

  /** Creates a channel (test its config first with {@link Channels.test}). */
  async create(options: ChannelCreateOptions): Promise<ChannelInfo> {
    const wire = await new ApiClient(resolveConfig(options)).request<ChannelWire>("POST", "/v1/channels", {
      body: {
        name: options.name,
        provider: options.provider,
        config: options.config,
        events: options.events,
      },
    });
    return channelOf(wire);
  },

  /** Sends a test message with a config that is not saved. */
  async test(
    options: ConnectionOptions & { provider: string; config: Record<string, string>; name?: string },
  ): Promise<ChannelTestResult> {
    return new ApiClient(resolveConfig(options)).request<ChannelTestResult>("POST", "/v1/channels/test", {
      body: { provider: options.provider, config: options.config, name: options.name },
    });
  },

  /** Sends a test message through a saved channel. */
  async testSaved(channelId: string, options: ConnectionOptions = {}): Promise<ChannelTestResult> {
    return new ApiClient(resolveConfig(options)).request<ChannelTestResult>(
      "POST",
      `${path(channelId)}/test`,
    );
  },

  /** Renames, re-subscribes, disables or re-enables a channel. */
  async update(
    channelId: string,
    set: { name?: string; events?: string[]; enabled?: boolean },
    options: ConnectionOptions = {},
  ): Promise<ChannelInfo> {
    const wire = await new ApiClient(resolveConfig(options)).request<ChannelWire>("PATCH", path(channelId), {
      body: set,
    });
    return channelOf(wire);
  },

  /** Replaces config fields (a rotated token, URL or signing secret); fields left out keep their value. */
  async rotateConfig(
    channelId: string,
    config: Record<string, string>,
    options: ConnectionOptions = {},
  ): Promise<ChannelInfo> {
    const wire = await new ApiClient(resolveConfig(options)).request<ChannelWire>(
      "PUT",
      `${path(channelId)}/config`,
      { body: config },
    );
    return channelOf(wire);
  },

  /** Deletes a channel. */
  async delete(channelId: string, options: ConnectionOptions = {}): Promise<void> {
    await new ApiClient(resolveConfig(options)).request<void>("DELETE", path(channelId));
  },

  /** The channel's latest deliveries, newest first. */
  async deliveries(
    channelId: string,
    options: ConnectionOptions & { limit?: number } = {},
  ): Promise<ChannelDeliveryInfo[]> {
    const { deliveries } = await new ApiClient(resolveConfig(options)).request<{
      deliveries: DeliveryWire[];
    }>("GET", `${path(channelId)}/deliveries`, { query: { limit: options.limit } });
    return deliveries.map((d) => ({
      eventId: d.event_id,
      eventType: d.event_type,
      status: d.status,
      attempts: d.attempts,
      lastError: d.last_error,
      createdAt: new Date(d.created_at),
      updatedAt: new Date(d.updated_at),
    }));
  },
};
