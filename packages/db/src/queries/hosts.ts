import { and, asc, eq, getTableColumns, inArray, isNull, lt, notInArray, or, sql } from "drizzle-orm";
import type { Executor } from "../client.ts";
import { hostRefreshTokens, hosts, hostTags, hostTokens, sandboxes } from "../schema.ts";
import { insertedRow } from "./returned.ts";

/** A host row. */
export type Host = typeof hosts.$inferSelect;
/** Host lifecycle states. */
export type HostStatus = Host["status"];
/** A host together with its tags (sorted). */
export interface HostWithTags extends Host {
  tags: string[];
}

async function withTags(ex: Executor, rows: Host[]): Promise<HostWithTags[]> {
  if (rows.length === 0) return [];
  const tags = await ex
    .select()
    .from(hostTags)
    .where(
      inArray(
        hostTags.hostId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(asc(hostTags.tag));
  const byHost = new Map<string, string[]>();
  for (const t of tags) byHost.set(t.hostId, [...(byHost.get(t.hostId) ?? []), t.tag]);
  return rows.map((r) => ({ ...r, tags: byHost.get(r.id) ?? [] }));
}

/** Inserts a `pending` host (it becomes `online` when its agent registers). */
export async function createHost(
  ex: Executor,
  input: {
    type: "regular" | "byoc";
    teamId: string | null;
    provider?: string;
    availabilityZone?: string;
    createdBy: string | null;
  },
): Promise<Host> {
  const [row] = await ex
    .insert(hosts)
    .values({ ...input, status: "pending" })
    .returning();
  return insertedRow(row, "hosts");
}

/** The host `id` with its tags, or undefined. */
export async function getHost(ex: Executor, id: string): Promise<HostWithTags | undefined> {
  const [row] = await ex.select().from(hosts).where(eq(hosts.id, id)).limit(1);
  return row ? (await withTags(ex, [row]))[0] : undefined;
}

/** Every host (platform admins), or only the BYOC hosts of `teamId`; oldest first. */
export async function listHosts(ex: Executor, scope: { teamId?: string }): Promise<HostWithTags[]> {
  const rows = await ex
    .select()
    .from(hosts)
    .where(scope.teamId ? eq(hosts.teamId, scope.teamId) : undefined)
    .orderBy(asc(hosts.createdAt), asc(hosts.id));
  return withTags(ex, rows);
}

/** Online hosts a sandbox of `teamId` may run on: its team's BYOC hosts when it has any, else regular hosts. */
export async function listSchedulableHosts(ex: Executor, teamId: string): Promise<Host[]> {
  const rows = await ex
    .select()
    .from(hosts)
    .where(
      and(
        eq(hosts.status, "online"),
        or(eq(hosts.type, "regular"), and(eq(hosts.type, "byoc"), eq(hosts.teamId, teamId))),
      ),
    )
    .orderBy(asc(hosts.createdAt), asc(hosts.id));
  const own = rows.filter((h) => h.type === "byoc");
  return own.length ? own : rows;
}

/** Records a registration token's issue (the secret lives in Redis only). */
export async function recordHostToken(
  ex: Executor,
  input: { hostId: string; createdBy: string | null; expiresAt: Date },
): Promise<void> {
  await ex.insert(hostTokens).values(input);
}

/** Marks the host's outstanding registration tokens used. */
export async function markHostTokensUsed(ex: Executor, hostId: string, at = new Date()): Promise<void> {
  await ex
    .update(hostTokens)
    .set({ usedAt: at })
    .where(and(eq(hostTokens.hostId, hostId), isNull(hostTokens.usedAt)));
}

/**
 * Moves a `pending` host to `online` with its address and specs. Undefined
 * when the host is gone or already registered (so two racing registrations
 * cannot both win).
 */
export async function registerHost(
  ex: Executor,
  id: string,
  input: { address: string; arch: string; cpuCount: number; memoryMb: number; diskGb: number },
  at = new Date(),
): Promise<Host | undefined> {
  const [row] = await ex
    .update(hosts)
    .set({ ...input, status: "online", lastHeartbeatAt: at, updatedAt: at })
    .where(and(eq(hosts.id, id), eq(hosts.status, "pending")))
    .returning();
  return row;
}

// What a heartbeat writes: its time, and `online` again for a host that was unreachable or offline.
function heartbeatSet(at: Date) {
  return {
    lastHeartbeatAt: at,
    updatedAt: at,
    status: sql<
      Host["status"]
    >`CASE WHEN ${hosts.status} IN ('unreachable', 'offline') THEN 'online' ELSE ${hosts.status} END`,
  };
}

/** Records a heartbeat; an `unreachable` host comes back `online`. Undefined when the host is gone. */
export async function recordHeartbeat(ex: Executor, id: string, at = new Date()): Promise<Host | undefined> {
  const [row] = await ex.update(hosts).set(heartbeatSet(at)).where(eq(hosts.id, id)).returning();
  return row;
}

/**
 * {@link recordHeartbeat}, also telling whether this heartbeat brought the host back from
 * `unreachable`/`offline` (so the recovery is reported once, by the heartbeat that caused it).
 */
export async function recordHeartbeatWithRecovery(
  ex: Executor,
  id: string,
  at = new Date(),
): Promise<{ host: Host; recovered: boolean } | undefined> {
  // A sub-select in RETURNING reads the statement's snapshot: the status before this update.
  const [row] = await ex
    .update(hosts)
    .set(heartbeatSet(at))
    .where(eq(hosts.id, id))
    .returning({
      ...getTableColumns(hosts),
      previousStatus: sql<string>`(SELECT h.status FROM hosts h WHERE h.id = ${id})`,
    });
  if (!row) return undefined;
  const { previousStatus, ...host } = row;
  return { host, recovered: previousStatus === "unreachable" || previousStatus === "offline" };
}

/**
 * Keeps the warm pool a host's heartbeat reported (`metadata.warm_pool`: per template, ready and
 * starting warm VMs and their memory) for placement; the other metadata keys stay.
 */
export async function setHostWarmPool(ex: Executor, id: string, warmPool: unknown[]): Promise<void> {
  await ex
    .update(hosts)
    .set({ metadata: sql`jsonb_set(${hosts.metadata}, '{warm_pool}', ${JSON.stringify(warmPool)}::jsonb)` })
    .where(eq(hosts.id, id));
}

/** Sets a host's status. */
export async function setHostStatus(ex: Executor, id: string, status: HostStatus, at = new Date()) {
  await ex.update(hosts).set({ status, updatedAt: at }).where(eq(hosts.id, id));
}

/** Online hosts whose last heartbeat is older than `before` (or missing). */
export async function listStaleOnlineHosts(ex: Executor, before: Date): Promise<Host[]> {
  return ex
    .select()
    .from(hosts)
    .where(
      and(eq(hosts.status, "online"), or(isNull(hosts.lastHeartbeatAt), lt(hosts.lastHeartbeatAt, before))),
    );
}

/** Online hosts. */
export async function listOnlineHosts(ex: Executor): Promise<Host[]> {
  return ex.select().from(hosts).where(eq(hosts.status, "online"));
}

/** Deletes a host (tags, tokens and refresh tokens cascade; its sandboxes keep a null host). */
export async function deleteHost(ex: Executor, id: string): Promise<void> {
  await ex.delete(hosts).where(eq(hosts.id, id));
}

/** Adds a tag (idempotent). */
export async function addHostTag(ex: Executor, hostId: string, tag: string): Promise<void> {
  await ex.insert(hostTags).values({ hostId, tag }).onConflictDoNothing();
}

/** Removes a tag; false when the host did not have it. */
export async function removeHostTag(ex: Executor, hostId: string, tag: string): Promise<boolean> {
  const rows = await ex
    .delete(hostTags)
    .where(and(eq(hostTags.hostId, hostId), eq(hostTags.tag, tag)))
    .returning();
  return rows.length > 0;
}

/** A refresh token row (the hash, never the token). */
export type HostRefreshToken = typeof hostRefreshTokens.$inferSelect;

/** Stores a new refresh token's hash. */
export async function createHostRefreshToken(
  ex: Executor,
  input: { hostId: string; tokenHash: string; expiresAt: Date },
): Promise<HostRefreshToken> {
  const [row] = await ex.insert(hostRefreshTokens).values(input).returning();
  return insertedRow(row, "host_refresh_tokens");
}

/** The unrevoked, unexpired refresh token with this hash, or undefined. */
export async function findLiveHostRefreshToken(
  ex: Executor,
  tokenHash: string,
  now = new Date(),
): Promise<HostRefreshToken | undefined> {
  const [row] = await ex
    .select()
    .from(hostRefreshTokens)
    .where(
      and(
        eq(hostRefreshTokens.tokenHash, tokenHash),
        isNull(hostRefreshTokens.revokedAt),
        sql`${hostRefreshTokens.expiresAt} > ${now}`,
      ),
    )
    .limit(1);
  return row;
}

/** Revokes one refresh token; false when it was already revoked (a concurrent rotation won). */
export async function revokeHostRefreshToken(ex: Executor, id: string, at = new Date()): Promise<boolean> {
  const rows = await ex
    .update(hostRefreshTokens)
    .set({ revokedAt: at })
    .where(and(eq(hostRefreshTokens.id, id), isNull(hostRefreshTokens.revokedAt)))
    .returning();
  return rows.length > 0;
}

/** Revokes every refresh token of a host (token regeneration, re-registration). */
export async function revokeAllHostRefreshTokens(ex: Executor, hostId: string, at = new Date()) {
  await ex
    .update(hostRefreshTokens)
    .set({ revokedAt: at })
    .where(and(eq(hostRefreshTokens.hostId, hostId), isNull(hostRefreshTokens.revokedAt)));
}

/** Sandboxes on a host that still hold resources there (anything but stopped). */
export async function listActiveSandboxesOnHost(ex: Executor, hostId: string) {
  return ex
    .select()
    .from(sandboxes)
    .where(and(eq(sandboxes.hostId, hostId), notInArray(sandboxes.state, ["stopped"])));
}

/**
 * Records the mTLS certificate just issued to a host (SHA-256 fingerprint, hex, and expiry).
 * Undefined when the host is gone.
 */
export async function setHostCertificate(
  ex: Executor,
  id: string,
  cert: { fingerprint: string; expiresAt: Date },
  at = new Date(),
): Promise<Host | undefined> {
  const [row] = await ex
    .update(hosts)
    .set({ certFingerprint: cert.fingerprint, certExpiresAt: cert.expiresAt, updatedAt: at })
    .where(eq(hosts.id, id))
    .returning();
  return row;
}
