import { randomUUID } from "node:crypto";
import { errors } from "@wrenn/common";
import {
  type Channel,
  type ChannelDelivery,
  createChannel,
  type Database,
  deleteChannel,
  getChannel,
  getMembership,
  isUniqueViolation,
  listAllChannels,
  listChannelDeliveries,
  listChannels,
  replaceChannelCiphertext,
  updateChannel,
} from "@wrenn/db";
import type { RateLimiter } from "../auth/rate-limit.ts";
import type { SecretBox } from "../crypto/secret-box.ts";
import { currentTeamAccess, roleAtLeast } from "../services/access.ts";
import { actorOf } from "../services/actor.ts";
import type { AuditLogger } from "../services/audit.ts";
import type { AuthContext } from "../services/auth-context.ts";
import { type AttemptResult, sendOnce } from "./delivery.ts";
import { type EventType, eventCatalog, eventTypes, isEventType, testMessage } from "./events.ts";
import type { OutboundClient } from "./outbound.ts";
import { type ChannelProvider, findProvider, providerIds, providers } from "./providers/index.ts";

/** Test messages a team may send per minute (saved and unsaved configs together). */
export const TESTS_PER_MINUTE = 20;

/** The authenticated data a channel's config is sealed to (a ciphertext opens only in its own row). */
export function channelSecretContext(channelId: string): string {
  return `channel:${channelId}`;
}

/** A channel with its config decrypted and masked for display. */
export interface ChannelWithConfig {
  channel: Channel;
  /** Non-secret fields in full; secret fields masked (`••••abcd`). */
  maskedConfig: Record<string, string>;
}

/** What `create` takes. */
export interface NewChannel {
  name: string;
  provider: string;
  config: Record<string, unknown>;
  events?: string[];
}

/**
 * Notification channels of the caller's team: listing is for every member, changing is for admins
 * and owners (an API key acts with its creator's current role). Configs are sealed with the
 * {@link SecretBox}; secrets leave only towards the provider.
 */
export class ChannelsService {
  constructor(
    private readonly deps: {
      db: Database;
      box: SecretBox | undefined;
      outbound: OutboundClient;
      audit: AuditLogger;
      dashboardUrl: string | undefined;
      /** Limits test messages per team (each is an outbound request a team triggers at will). */
      limiter?: RateLimiter;
    },
  ) {}

  /** The provider catalogue with each provider's form fields, and the event types. */
  catalog() {
    return {
      providers: providerIds.map((id) => {
        const p = providers[id];
        return { id: p.id, label: p.label, fields: p.fields };
      }),
      events: eventTypes.map((type) => ({ type, ...eventCatalog[type] })),
    };
  }

  /** The team's channels. */
  async list(auth: AuthContext): Promise<ChannelWithConfig[]> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const rows = await listChannels(this.deps.db, team.id);
    return rows.map((c) => this.withMaskedConfig(c));
  }

  /** One channel of the team (`not_found` for another team's). */
  async get(auth: AuthContext, id: string): Promise<ChannelWithConfig> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    return this.withMaskedConfig(await this.load(team.id, id));
  }

  /** Creates a channel after validating its config (nothing is sent; use {@link test} first). */
  async create(auth: AuthContext, input: NewChannel): Promise<ChannelWithConfig> {
    const teamId = await this.requireAdmin(auth);
    const box = this.box();
    const provider = this.provider(input.provider);
    const config = parseConfig(provider, input.config);
    const events = parseEvents(input.events);
    const id = randomUUID();
    try {
      const row = await createChannel(this.deps.db, {
        id,
        teamId,
        name: input.name,
        provider: provider.id,
        configEncrypted: box.sealJson(config, channelSecretContext(id)),
        events,
        createdBy: auth.userId,
      });
      await this.deps.audit.channelChanged(actorOf(auth), teamId, id, "create", {
        name: input.name,
        provider: provider.id,
        events,
      });
      return { channel: row, maskedConfig: mask(provider, config) };
    } catch (err) {
      if (isUniqueViolation(err))
        throw errors.alreadyExists(`a channel named '${input.name}' already exists`);
      throw err;
    }
  }

  /** Renames, re-subscribes, disables or re-enables a channel (re-enabling clears its failure streak). */
  async update(
    auth: AuthContext,
    id: string,
    set: { name?: string; events?: string[]; enabled?: boolean },
  ): Promise<ChannelWithConfig> {
    const teamId = await this.requireAdmin(auth);
    const events = set.events === undefined ? undefined : parseEvents(set.events);
    let row: Channel | undefined;
    try {
      row = await updateChannel(this.deps.db, teamId, id, {
        ...(set.name === undefined ? {} : { name: set.name }),
        ...(events === undefined ? {} : { events }),
        ...(set.enabled === undefined ? {} : { enabled: set.enabled }),
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw errors.alreadyExists(`a channel named '${set.name}' already exists`);
      throw err;
    }
    if (!row) throw errors.notFound("channel not found");
    await this.deps.audit.channelChanged(actorOf(auth), teamId, id, "update", {
      ...(set.name === undefined ? {} : { name: set.name }),
      ...(events === undefined ? {} : { events }),
      ...(set.enabled === undefined ? {} : { enabled: set.enabled }),
    });
    return this.withMaskedConfig(row);
  }

  /**
   * Replaces config fields (a rotated webhook URL, token or signing secret). Fields left out keep
   * their value; the result is validated as a whole and sealed again.
   */
  async rotateConfig(
    auth: AuthContext,
    id: string,
    patch: Record<string, unknown>,
  ): Promise<ChannelWithConfig> {
    const teamId = await this.requireAdmin(auth);
    const box = this.box();
    const current = await this.load(teamId, id);
    const provider = this.provider(current.provider);
    // A config sealed with a lost key cannot be merged: then the patch must be a whole config.
    let saved: Record<string, string> = {};
    try {
      saved = this.open(current);
    } catch {
      saved = {};
    }
    const merged = { ...saved, ...patch };
    const config = parseConfig(provider, merged);
    const row = await updateChannel(this.deps.db, teamId, id, {
      configEncrypted: box.sealJson(config, channelSecretContext(id)),
    });
    if (!row) throw errors.notFound("channel not found");
    // Field names only: which secret changed is worth auditing, its value never.
    await this.deps.audit.channelChanged(actorOf(auth), teamId, id, "rotate_config", {
      fields: Object.keys(patch).sort(),
    });
    return { channel: row, maskedConfig: mask(provider, config) };
  }

  /** Deletes a channel. */
  async delete(auth: AuthContext, id: string): Promise<void> {
    const teamId = await this.requireAdmin(auth);
    const row = await deleteChannel(this.deps.db, teamId, id);
    if (!row) throw errors.notFound("channel not found");
    await this.deps.audit.channelChanged(actorOf(auth), teamId, id, "delete", {
      name: row.name,
      provider: row.provider,
    });
  }

  /** Sends a test message with a config that is not saved yet (admins only: it makes outbound requests). */
  async testConfig(
    auth: AuthContext,
    input: { provider: string; config: Record<string, unknown>; name?: string },
  ): Promise<AttemptResult> {
    const teamId = await this.requireAdmin(auth);
    const provider = this.provider(input.provider);
    const config = parseConfig(provider, input.config);
    await this.deps.limiter?.hit("channel test", [[teamId, TESTS_PER_MINUTE]]);
    return sendOnce(
      this.deps.outbound,
      provider,
      config,
      testMessage(this.deps.dashboardUrl, input.name ?? "new channel"),
    );
  }

  /** Sends a test message through a saved channel. */
  async testSaved(auth: AuthContext, id: string): Promise<AttemptResult> {
    const teamId = await this.requireAdmin(auth);
    const row = await this.load(teamId, id);
    const provider = this.provider(row.provider);
    await this.deps.limiter?.hit("channel test", [[teamId, TESTS_PER_MINUTE]]);
    return sendOnce(
      this.deps.outbound,
      provider,
      this.open(row),
      testMessage(this.deps.dashboardUrl, row.name),
    );
  }

  /** The channel's latest deliveries, newest first. */
  async deliveries(auth: AuthContext, id: string, limit: number): Promise<ChannelDelivery[]> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    await this.load(team.id, id);
    return listChannelDeliveries(this.deps.db, team.id, id, limit);
  }

  /**
   * Re-seals every config sealed with a previous `WRENN_ENCRYPTION_KEY` under the current one
   * (run at start-up; once it reports 0 the previous key can be removed). Returns how many changed.
   */
  async reencryptStale(): Promise<number> {
    const box = this.deps.box;
    if (!box) return 0;
    let changed = 0;
    for (const row of await listAllChannels(this.deps.db)) {
      if (!box.isStale(row.configEncrypted)) continue;
      const context = channelSecretContext(row.id);
      const next = box.seal(box.open(row.configEncrypted, context), context);
      if (await replaceChannelCiphertext(this.deps.db, row.id, row.configEncrypted, next)) changed++;
    }
    return changed;
  }

  private async requireAdmin(auth: AuthContext): Promise<string> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    // For an API key, the role of the member who created it, as it is now.
    const m = auth.userId ? await getMembership(this.deps.db, auth.userId, team.id) : undefined;
    if (!m || !roleAtLeast(m.role, "admin")) {
      throw errors.permissionDenied("only team admins and owners can manage notification channels");
    }
    return team.id;
  }

  private async load(teamId: string, id: string): Promise<Channel> {
    const row = await getChannel(this.deps.db, teamId, id);
    if (!row) throw errors.notFound("channel not found");
    return row;
  }

  private box(): SecretBox {
    if (!this.deps.box) {
      throw errors.failedPrecondition(
        "notification channels need WRENN_ENCRYPTION_KEY to be set on the control plane",
      );
    }
    return this.deps.box;
  }

  private provider(id: string): ChannelProvider {
    const p = findProvider(id);
    if (!p) throw errors.invalidArgument(`provider must be one of ${providerIds.join(", ")}`);
    return p;
  }

  private open(row: Channel): Record<string, string> {
    try {
      return this.box().openJson<Record<string, string>>(row.configEncrypted, channelSecretContext(row.id));
    } catch (err) {
      if ((err as { code?: string }).code) throw err;
      throw errors.failedPrecondition(
        "this channel's config cannot be decrypted with the configured WRENN_ENCRYPTION_KEY (set the key it was saved with as WRENN_ENCRYPTION_KEY_PREVIOUS)",
      );
    }
  }

  private withMaskedConfig(row: Channel): ChannelWithConfig {
    const provider = findProvider(row.provider);
    let masked: Record<string, string> = {};
    if (provider && this.deps.box) {
      try {
        masked = mask(provider, this.open(row));
      } catch {
        masked = {};
      }
    }
    return { channel: row, maskedConfig: masked };
  }
}

/** Validates a config against the provider's schema; the message names fields, never values. */
function parseConfig(provider: ChannelProvider, config: Record<string, unknown>): Record<string, string> {
  const parsed = provider.schema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "config";
    const what =
      issue?.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue?.message;
    throw errors.invalidArgument(`${provider.id} config: ${field}: ${what ?? "invalid"}`);
  }
  return parsed.data;
}

function parseEvents(events: string[] | undefined): EventType[] {
  if (events === undefined) return [...eventTypes];
  const unknown = events.filter((e) => !isEventType(e));
  if (unknown.length) {
    throw errors.invalidArgument(
      `unknown event type(s) ${unknown.join(", ")}; see GET /v1/channels/providers`,
    );
  }
  if (events.length === 0) throw errors.invalidArgument("events must name at least one event type");
  return [...new Set(events)] as EventType[];
}

/** Secret fields as `••••` plus at most their last four characters (only when long enough to stay secret). */
export function mask(provider: ChannelProvider, config: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of provider.fields) {
    const v = config[f.name];
    if (v === undefined) continue;
    out[f.name] = f.secret ? `••••${v.length >= 24 ? v.slice(-4) : ""}` : v;
  }
  return out;
}
