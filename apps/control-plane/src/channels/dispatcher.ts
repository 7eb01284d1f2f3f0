import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "@wrenn/common";
import {
  type Channel,
  type Database,
  getChannel,
  listChannelsForEvent,
  pruneChannelDeliveries,
  recordChannelOutcome,
  recordDeliveryAttempt,
} from "@wrenn/db";
import type { Redis } from "ioredis";
import type { SecretBox } from "../crypto/secret-box.ts";
import type { AuditLogger } from "../services/audit.ts";
import { sendOnce } from "./delivery.ts";
import { isEventType, type LifecycleEvent, renderMessage } from "./events.ts";
import type { OutboundClient } from "./outbound.ts";
import { findProvider } from "./providers/index.ts";
import { channelSecretContext } from "./service.ts";
import { DISPATCH_GROUP, ensureDispatchGroup, eventStreamKey } from "./stream.ts";

// Keys beside the deployment's stream (`{stream}:…`), so deployments sharing a Redis stay apart:
// `:retries` is the sorted set of scheduled retries (score: due time in ms); `:claim:{event}:{channel}`
// is held by the dispatcher delivering an event to a channel while it tries (for half the reclaim
// idle time, so a crashed holder's claim is gone when its event is taken over; an event with a
// claim still held stays unacknowledged and is taken over again), then marks the pair done for a
// week (a re-read event is not sent twice).
const CLAIM_DONE_TTL_SEC = 7 * 24 * 3600;
const CLAIM_DONE = "done";
// Takes a due retry (score <= now) by moving it to now + lease: only one dispatcher can, and if it
// dies before the attempt is recorded the retry comes due again after the lease.
const TAKE_DUE_RETRY = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0`;
/** How often old delivery rows are deleted (by every dispatcher; deleting twice is harmless). */
const PRUNE_EVERY_MS = 3600 * 1000;

/** Settings of a {@link ChannelDispatcher}. */
export interface DispatcherOptions {
  db: Database;
  /** A connection to share; the dispatcher opens its own duplicate for blocking reads. */
  redis: Redis;
  log: Logger;
  box: SecretBox | undefined;
  outbound: OutboundClient;
  audit: AuditLogger;
  dashboardUrl: string | undefined;
  /** Wait before retry n (10 s, 30 s by default): one attempt plus one per entry. */
  retryDelaysMs: number[];
  /** Final failures in a row that disable a channel. */
  disableAfter: number;
  /** This dispatcher's name in the consumer group (default: host, pid and a random suffix). */
  consumer?: string;
  /** How long one blocking read waits for new events. */
  blockMs?: number;
  /** How often due retries and abandoned events are looked for. */
  pollMs?: number;
  /** An event read by a dispatcher that has not acknowledged it for this long is taken over. */
  reclaimIdleMs?: number;
  /** Delivery rows older than this are deleted (default 30 days). */
  deliveryRetentionMs?: number;
}

interface RetryJob {
  eventId: string;
  event: LifecycleEvent;
  channelId: string;
  teamId: string;
  attempt: number;
}

/**
 * Delivers lifecycle events from the Redis stream to the channels subscribed to them. Dispatchers
 * of every control plane form one consumer group, so each event is read by one of them; a claim
 * key per event and channel keeps an event re-read after a crash from being sent twice, and one
 * whose holder died expires before its event is taken over, so the event is still sent. Failed
 * attempts are scheduled in a shared sorted set, so any dispatcher can retry them (a taken retry
 * comes due again if its dispatcher dies before recording it); the last failure
 * is recorded on the channel, and a channel failing `disableAfter` deliveries in a row is disabled.
 */
export class ChannelDispatcher {
  readonly consumer: string;
  /** Stream entries this dispatcher has handled (each entry is handled by one dispatcher of the group). */
  handledEvents = 0;
  readonly #o: DispatcherOptions;
  #reader: Redis | undefined;
  #stream = "";
  #retries = "";
  #stopped = true;
  #loops: Promise<void>[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  }

  /** Starts reading the stream and the retry schedule. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#stream = await eventStreamKey(this.#o.db);
    this.#retries = `${this.#stream}:retries`;
    await ensureDispatchGroup(this.#o.redis, this.#stream);
    this.#reader = this.#o.redis.duplicate();
    this.#reader.on("error", () => undefined);
    this.#loops = [this.#readLoop(), this.#pollLoop()];
  }

  /** Stops reading and waits for deliveries in progress (retries stay scheduled for others). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#reader?.disconnect();
    await Promise.allSettled(this.#loops);
    await Promise.allSettled([...this.#inFlight]);
  }

  async #readLoop(): Promise<void> {
    const reader = this.#reader as Redis;
    while (!this.#stopped) {
      try {
        const res = (await reader.xreadgroup(
          "GROUP",
          DISPATCH_GROUP,
          this.consumer,
          "COUNT",
          16,
          "BLOCK",
          this.#o.blockMs ?? 2000,
          "STREAMS",
          this.#stream,
          ">",
        )) as [string, [string, string[]][]][] | null;
        for (const [, entries] of res ?? []) {
          await Promise.all(entries.map(([id, fields]) => this.#track(this.#handleEntry(id, fields))));
        }
      } catch (err) {
        if (this.#stopped) return;
        if (String((err as Error).message).includes("NOGROUP")) {
          await ensureDispatchGroup(this.#o.redis, this.#stream).catch(() => undefined);
        } else {
          this.#o.log.warn({ error: (err as Error).message }, "reading the event stream failed");
        }
        await sleep(1000);
      }
    }
  }

  async #pollLoop(): Promise<void> {
    let sinceReclaim = 0;
    let lastPrune = 0;
    const pollMs = this.#o.pollMs ?? 1000;
    while (!this.#stopped) {
      try {
        await this.#runDueRetries();
        if (Date.now() - lastPrune >= PRUNE_EVERY_MS) {
          lastPrune = Date.now();
          const retention = this.#o.deliveryRetentionMs ?? 30 * 24 * 3600 * 1000;
          await pruneChannelDeliveries(this.#o.db, new Date(Date.now() - retention));
        }
        sinceReclaim += pollMs;
        if (sinceReclaim >= Math.min(this.#o.reclaimIdleMs ?? 60_000, 30_000)) {
          sinceReclaim = 0;
          await this.#reclaimAbandoned();
        }
      } catch (err) {
        if (this.#stopped) return;
        this.#o.log.warn({ error: (err as Error).message }, "channel retry pass failed");
      }
      await sleep(pollMs);
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  async #handleEntry(id: string, fields: string[]): Promise<void> {
    const raw = fields[fields.indexOf("event") + 1];
    let event: LifecycleEvent | undefined;
    try {
      event = raw ? (JSON.parse(raw) as LifecycleEvent) : undefined;
    } catch {
      event = undefined;
    }
    if (event && isEventType(event.type)) {
      const channels = await listChannelsForEvent(this.#o.db, event.teamId, event.type);
      const settled = await Promise.all(channels.map((ch) => this.#first(id, event, ch)));
      // A channel another dispatcher is still trying (or whose holder died): left unacknowledged,
      // the event is taken over again later and that channel is sent to unless it was done.
      if (!settled.every(Boolean)) return;
    } else {
      this.#o.log.warn({ streamId: id }, "ignoring a malformed lifecycle event");
    }
    await this.#o.redis.xack(this.#stream, DISPATCH_GROUP, id);
    this.handledEvents++;
  }

  /** How long a claim (or a taken retry) is held while its attempt runs: half the reclaim idle time. */
  get #leaseMs(): number {
    return Math.max(100, Math.floor((this.#o.reclaimIdleMs ?? 60_000) / 2));
  }

  /** The first attempt for (event, channel); true once that pair is done (by this or another dispatcher). */
  async #first(eventId: string, event: LifecycleEvent, channel: Channel): Promise<boolean> {
    const claimKey = `${this.#stream}:claim:${eventId}:${channel.id}`;
    const claimed = await this.#o.redis.set(claimKey, this.consumer, "PX", this.#leaseMs, "NX");
    if (claimed !== "OK") return (await this.#o.redis.get(claimKey)) === CLAIM_DONE;
    try {
      await this.#attempt({ eventId, event, channelId: channel.id, teamId: channel.teamId, attempt: 1 });
    } catch (err) {
      // Not attempted (database or Redis trouble): release the claim so the re-read event is sent.
      await this.#o.redis.del(claimKey).catch(() => undefined);
      throw err;
    }
    // The outcome is recorded (and any retry scheduled): the pair is done.
    await this.#o.redis.set(claimKey, CLAIM_DONE, "EX", CLAIM_DONE_TTL_SEC);
    return true;
  }

  async #runDueRetries(): Promise<void> {
    const now = Date.now();
    const due = await this.#o.redis.zrangebyscore(this.#retries, "-inf", now, "LIMIT", 0, 32);
    await Promise.all(
      due.map(async (member) => {
        const taken = await this.#o.redis.eval(
          TAKE_DUE_RETRY,
          1,
          this.#retries,
          member,
          now,
          now + this.#leaseMs,
        );
        if (taken !== 1) return;
        try {
          await this.#track(this.#attempt(JSON.parse(member) as RetryJob));
        } catch (err) {
          // Not attempted (database trouble): due again a little later rather than lost.
          this.#o.log.warn({ error: (err as Error).message }, "channel retry postponed");
          await this.#o.redis.zadd(this.#retries, Date.now() + 5000, member);
          return;
        }
        // Recorded (a further retry, if any, is a new member): this one is done.
        await this.#o.redis.zrem(this.#retries, member);
      }),
    );
  }

  /** Takes over events another dispatcher read but never acknowledged (it crashed). */
  async #reclaimAbandoned(): Promise<void> {
    const res = (await this.#o.redis.xautoclaim(
      this.#stream,
      DISPATCH_GROUP,
      this.consumer,
      this.#o.reclaimIdleMs ?? 60_000,
      "0-0",
      "COUNT",
      16,
    )) as [string, [string, string[] | null][]];
    for (const [id, fields] of res[1] ?? []) {
      if (fields) await this.#track(this.#handleEntry(id, fields));
    }
  }

  async #attempt(job: RetryJob): Promise<void> {
    const o = this.#o;
    const channel = await getChannel(o.db, job.teamId, job.channelId);
    // Deleted or disabled meanwhile: nothing more to do for it.
    if (!channel?.enabled) return;
    const provider = findProvider(channel.provider);
    const log = o.log.child({
      channelId: channel.id,
      provider: channel.provider,
      eventType: job.event.type,
      attempt: job.attempt,
    });
    let result: Awaited<ReturnType<typeof sendOnce>>;
    if (!provider || !o.box) {
      result = {
        ok: false,
        error: provider ? "WRENN_ENCRYPTION_KEY is not set" : "unknown provider",
        retryable: false,
      };
    } else {
      let config: Record<string, string> | undefined;
      try {
        config = o.box.openJson<Record<string, string>>(
          channel.configEncrypted,
          channelSecretContext(channel.id),
        );
      } catch {
        result = { ok: false, error: "config cannot be decrypted with the configured key", retryable: false };
      }
      if (config) {
        const message = renderMessage({ ...job.event, id: job.eventId }, o.dashboardUrl);
        result = await sendOnce(o.outbound, provider, config, message);
      }
    }
    result ??= { ok: false, error: "not sent", retryable: false };
    const delay = !result.ok && result.retryable ? o.retryDelaysMs[job.attempt - 1] : undefined;
    const status = result.ok ? "delivered" : delay !== undefined ? "pending" : "failed";
    const error = result.ok ? "" : result.error;
    await recordDeliveryAttempt(o.db, {
      channelId: channel.id,
      teamId: channel.teamId,
      eventId: job.eventId,
      eventType: job.event.type,
      status,
      error,
    });
    if (delay !== undefined) {
      log.warn({ error, retryInMs: delay }, "channel delivery failed; will retry");
      await o.redis.zadd(
        this.#retries,
        Date.now() + delay,
        JSON.stringify({ ...job, attempt: job.attempt + 1 }),
      );
      return;
    }
    const outcome = await recordChannelOutcome(
      o.db,
      channel.id,
      result.ok ? { ok: true } : { ok: false, error, disableAfter: o.disableAfter },
    );
    if (result.ok) {
      log.info("channel delivery succeeded");
      return;
    }
    log.warn({ error }, "channel delivery failed");
    if (outcome?.disabledNow) {
      log.warn({ failures: outcome.channel.consecutiveFailures }, "channel auto-disabled");
      await o.audit.channelAutoDisabled(
        channel.teamId,
        channel.id,
        outcome.channel.consecutiveFailures,
        error,
      );
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
