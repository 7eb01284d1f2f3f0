import type { Logger } from "@wrenn/common";
import { type Database, getDeploymentId } from "@wrenn/db";
import type { Redis } from "ioredis";
import { type AuditFacts, eventsFromAudit, type LifecycleEvent } from "./events.ts";

/** The consumer group of channel dispatchers (each event goes to one dispatcher of the group). */
export const DISPATCH_GROUP = "channel-dispatchers";
/** Roughly how many events the stream keeps (trimmed approximately on append). */
const STREAM_MAX_LEN = 100_000;

/**
 * The Redis stream of this deployment's lifecycle events, `wrenn:events:{deployment id}`: control
 * planes of one deployment (one database) share it; another deployment on the same Redis has its
 * own, so its dispatchers never take (and drop) this one's events.
 */
export async function eventStreamKey(db: Database): Promise<string> {
  return `wrenn:events:${await getDeploymentId(db)}`;
}

/** Creates the dispatcher group (from the stream's end) unless it exists; creates the stream too. */
export async function ensureDispatchGroup(redis: Redis, stream: string): Promise<void> {
  try {
    // ioredis applies `keyPrefix` to XREADGROUP/XADD/XACK keys but not to XGROUP's: add it here.
    const key = `${redis.options.keyPrefix ?? ""}${stream}`;
    await redis.xgroup("CREATE", key, DISPATCH_GROUP, "$", "MKSTREAM");
  } catch (err) {
    if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
  }
}

/** What the dispatcher group has yet to finish: entries read but not acknowledged, and entries unread. */
export interface DispatchBacklog {
  /** Read by a dispatcher, not yet acknowledged (being delivered, or its dispatcher died). */
  pending: number;
  /** Appended but not yet read by any dispatcher (null when Redis cannot tell, e.g. after a trim). */
  unread: number | null;
}

/**
 * The dispatcher group's backlog on `stream`; `{pending: 0, unread: 0}` means every event appended
 * so far has been handled (its first delivery attempts made; retries are scheduled separately).
 */
export async function dispatchBacklog(redis: Redis, stream: string): Promise<DispatchBacklog> {
  // Like XGROUP, XINFO does not get ioredis' `keyPrefix`.
  const key = `${redis.options.keyPrefix ?? ""}${stream}`;
  const groups = (await redis.xinfo("GROUPS", key)) as unknown[][];
  for (const fields of groups) {
    const info = new Map<unknown, unknown>();
    for (let i = 0; i + 1 < fields.length; i += 2) info.set(fields[i], fields[i + 1]);
    if (info.get("name") !== DISPATCH_GROUP) continue;
    const lag = info.get("lag");
    return { pending: Number(info.get("pending")), unread: typeof lag === "number" ? lag : null };
  }
  return { pending: 0, unread: null };
}

/**
 * Turns audit entries that are lifecycle events into stream entries. The audit logger calls it
 * after each write; a Redis failure is logged and never fails the action being audited.
 */
export class EventPublisher {
  #stream: Promise<string> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly db: Database,
    private readonly log: Logger,
  ) {}

  /** Appends the events `facts` stands for (none, one, or two); resolves to their stream ids. */
  async onAudit(facts: AuditFacts): Promise<(string | undefined)[]> {
    const ids: (string | undefined)[] = [];
    for (const event of eventsFromAudit(facts)) ids.push(await this.publish(event));
    return ids;
  }

  /** Appends one event; resolves to its stream id (undefined when Redis failed). */
  async publish(event: LifecycleEvent): Promise<string | undefined> {
    try {
      // The group must exist before the first event, or dispatchers that start later ("$") miss it.
      this.#stream ??= (async () => {
        const key = await eventStreamKey(this.db);
        await ensureDispatchGroup(this.redis, key);
        return key;
      })().catch((err) => {
        this.#stream = undefined;
        throw err;
      });
      const stream = await this.#stream;
      const id = await this.redis.xadd(
        stream,
        "MAXLEN",
        "~",
        STREAM_MAX_LEN,
        "*",
        "event",
        JSON.stringify(event),
      );
      return id ?? undefined;
    } catch (err) {
      this.log.error({ err, eventType: event.type }, "publishing a lifecycle event failed");
      return undefined;
    }
  }
}
