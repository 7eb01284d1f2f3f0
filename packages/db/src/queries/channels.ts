import { errors } from "@wrenn/common";
import { and, arrayContains, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { channelDeliveries, channels, deploymentIdentity, teams, users, usersTeams } from "../schema.ts";
import { insertedRow } from "./returned.ts";

/** A channel row (its config is ciphertext). */
export type Channel = typeof channels.$inferSelect;
/** A channel delivery row. */
export type ChannelDelivery = typeof channelDeliveries.$inferSelect;

/** Stores a new channel; `id` is chosen by the caller because the ciphertext is bound to it. */
export async function createChannel(
  ex: Executor,
  input: {
    id: string;
    teamId: string;
    name: string;
    provider: string;
    configEncrypted: Buffer;
    events: string[];
    createdBy: string | null;
  },
): Promise<Channel> {
  const [row] = await ex.insert(channels).values(input).returning();
  return insertedRow(row, "channels");
}

/** The channels of `teamId`, oldest first. */
export async function listChannels(ex: Executor, teamId: string): Promise<Channel[]> {
  return ex
    .select()
    .from(channels)
    .where(eq(channels.teamId, teamId))
    .orderBy(channels.createdAt, channels.id);
}

/** One channel of `teamId` (undefined for another team's channel). */
export async function getChannel(ex: Executor, teamId: string, id: string): Promise<Channel | undefined> {
  const [row] = await ex
    .select()
    .from(channels)
    .where(and(eq(channels.id, id), eq(channels.teamId, teamId)))
    .limit(1);
  return row;
}

/** Changes name, events or enabled state of a channel of `teamId`; enabling clears the failure streak. */
export async function updateChannel(
  ex: Executor,
  teamId: string,
  id: string,
  set: { name?: string; events?: string[]; enabled?: boolean; configEncrypted?: Buffer },
): Promise<Channel | undefined> {
  const reenable = set.enabled === true ? { disabledReason: "", consecutiveFailures: 0 } : {};
  const disable = set.enabled === false ? { disabledReason: "user" } : {};
  const [row] = await ex
    .update(channels)
    .set({ ...set, ...reenable, ...disable, updatedAt: sql`now()` })
    .where(and(eq(channels.id, id), eq(channels.teamId, teamId)))
    .returning();
  return row;
}

/** Deletes a channel of `teamId`; returns the deleted row. */
export async function deleteChannel(ex: Executor, teamId: string, id: string): Promise<Channel | undefined> {
  const [row] = await ex
    .delete(channels)
    .where(and(eq(channels.id, id), eq(channels.teamId, teamId)))
    .returning();
  return row;
}

/**
 * The enabled channels an event of `teamId` goes to: those of the team subscribed to `eventType`.
 * Events without a team (shared hosts) go to channels of teams one of whose owners or admins is a
 * platform admin: the operators.
 */
export async function listChannelsForEvent(
  ex: Executor,
  teamId: string | null,
  eventType: string,
): Promise<Channel[]> {
  const subscribed = and(eq(channels.enabled, true), arrayContains(channels.events, [eventType]));
  if (teamId) {
    // A soft-deleted team's channels fall silent (its sandboxes are destroyed as it goes).
    const rows = await ex
      .select({ channel: channels })
      .from(channels)
      .innerJoin(teams, eq(teams.id, channels.teamId))
      .where(and(subscribed, eq(channels.teamId, teamId), isNull(teams.deletedAt)));
    return rows.map((r) => r.channel);
  }
  const operatorTeams = ex
    .select({ id: usersTeams.teamId })
    .from(usersTeams)
    .innerJoin(users, eq(users.id, usersTeams.userId))
    .innerJoin(teams, eq(teams.id, usersTeams.teamId))
    .where(
      and(eq(users.isAdmin, true), inArray(usersTeams.role, ["owner", "admin"]), isNull(teams.deletedAt)),
    );
  return ex
    .select()
    .from(channels)
    .where(and(subscribed, inArray(channels.teamId, operatorTeams)));
}

/** This deployment's id (migration 0006 creates its one row). */
export async function getDeploymentId(ex: Executor): Promise<string> {
  const [row] = await ex.select({ id: deploymentIdentity.id }).from(deploymentIdentity).limit(1);
  if (!row) throw errors.internal("deployment_identity has no row (migrations not applied?)");
  return row.id;
}

/** Every channel (for re-encrypting configs under a new key). */
export async function listAllChannels(ex: Executor): Promise<Channel[]> {
  return ex.select().from(channels);
}

/** Replaces a channel's ciphertext (key rotation), only when it is still `previous`. */
export async function replaceChannelCiphertext(
  ex: Executor,
  id: string,
  previous: Buffer,
  next: Buffer,
): Promise<boolean> {
  const rows = await ex
    .update(channels)
    .set({ configEncrypted: next })
    .where(and(eq(channels.id, id), eq(channels.configEncrypted, previous)))
    .returning({ id: channels.id });
  return rows.length > 0;
}

/** Records one attempt of delivering `eventId` to a channel (creating the delivery row on the first). */
export async function recordDeliveryAttempt(
  ex: Executor,
  input: {
    channelId: string;
    teamId: string;
    eventId: string;
    eventType: string;
    status: "pending" | "delivered" | "failed";
    error: string;
  },
): Promise<ChannelDelivery | undefined> {
  const [row] = await ex
    .insert(channelDeliveries)
    .values({
      channelId: input.channelId,
      teamId: input.teamId,
      eventId: input.eventId,
      eventType: input.eventType,
      status: input.status,
      attempts: 1,
      lastError: input.error,
    })
    .onConflictDoUpdate({
      target: [channelDeliveries.channelId, channelDeliveries.eventId],
      set: {
        status: input.status,
        attempts: sql`${channelDeliveries.attempts} + 1`,
        lastError: input.error,
        updatedAt: sql`now()`,
      },
    })
    .returning();
  return row;
}

/**
 * Records a delivery's final outcome on its channel: success resets the failure streak; a
 * failure extends it, and once it reaches `disableAfter` the channel is disabled. Returns the
 * channel after the update and whether this call disabled it.
 */
export async function recordChannelOutcome(
  ex: Executor,
  channelId: string,
  outcome: { ok: true } | { ok: false; error: string; disableAfter: number },
): Promise<{ channel: Channel; disabledNow: boolean } | undefined> {
  if (outcome.ok) {
    const [row] = await ex
      .update(channels)
      .set({
        lastDeliveryStatus: "delivered",
        lastDeliveryAt: sql`now()`,
        consecutiveFailures: 0,
      })
      .where(eq(channels.id, channelId))
      .returning();
    return row && { channel: row, disabledNow: false };
  }
  const reached = sql`${channels.consecutiveFailures} + 1 >= ${outcome.disableAfter}`;
  const [row] = await ex
    .update(channels)
    .set({
      lastDeliveryStatus: "failed",
      lastDeliveryAt: sql`now()`,
      lastError: outcome.error,
      consecutiveFailures: sql`${channels.consecutiveFailures} + 1`,
      enabled: sql`CASE WHEN ${reached} THEN false ELSE ${channels.enabled} END`,
      disabledReason: sql`CASE WHEN ${reached} AND ${channels.enabled} THEN ${`auto: ${outcome.disableAfter} consecutive failed deliveries`} ELSE ${channels.disabledReason} END`,
    })
    .where(eq(channels.id, channelId))
    .returning();
  if (!row) return undefined;
  // Exactly the failure that reached the threshold disables it (later ones find it disabled).
  const disabledNow =
    !row.enabled &&
    row.consecutiveFailures === outcome.disableAfter &&
    row.disabledReason.startsWith("auto:");
  return { channel: row, disabledNow };
}

/** Deletes delivery rows created before `before`; returns how many. */
export async function pruneChannelDeliveries(ex: Executor, before: Date): Promise<number> {
  const rows = await ex
    .delete(channelDeliveries)
    .where(lt(channelDeliveries.createdAt, before))
    .returning({ id: channelDeliveries.eventId });
  return rows.length;
}

/** The latest deliveries of a channel of `teamId`, newest first. */
export async function listChannelDeliveries(
  ex: Executor,
  teamId: string,
  channelId: string,
  limit: number,
): Promise<ChannelDelivery[]> {
  return ex
    .select()
    .from(channelDeliveries)
    .where(and(eq(channelDeliveries.channelId, channelId), eq(channelDeliveries.teamId, teamId)))
    .orderBy(desc(channelDeliveries.createdAt))
    .limit(limit);
}
