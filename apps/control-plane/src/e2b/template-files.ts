import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

// Uploads live a day (the SDK asks again by hash and re-uploads what is gone);
// a build request and an upload link an hour, as E2B's do.
const FILES_TTL_SEC = 24 * 3600;
const PENDING_TTL_SEC = 3600;

/** A build the SDK requested (`POST /v3/templates`) but has not triggered yet. */
export interface PendingE2bBuild {
  teamId: string;
  name: string;
  cpuCount?: number | undefined;
  memoryMB?: number | undefined;
}

/**
 * Redis state of E2B's two-phase template build: build requests waiting for
 * their steps, and COPY uploads keyed by the SDK's content hash per team (so a
 * rebuild with unchanged files uploads nothing), with one-use upload tokens —
 * the SDK sends the upload to the URL we hand out without its API key.
 */
export class E2bTemplateStore {
  constructor(private readonly redis: Redis) {}

  private filesKey(teamId: string, hash: string): string {
    return `e2b:tpl-files:${teamId}:${hash}`;
  }

  /** Records a requested build under its (future) build id. */
  async savePending(buildId: string, pending: PendingE2bBuild): Promise<void> {
    await this.redis.set(`e2b:tpl-build:${buildId}`, JSON.stringify(pending), "EX", PENDING_TTL_SEC);
  }

  /** The requested build `buildId`, if it was requested within the hour and not yet triggered. */
  async pending(buildId: string): Promise<PendingE2bBuild | undefined> {
    const raw = await this.redis.get(`e2b:tpl-build:${buildId}`);
    return raw ? (JSON.parse(raw) as PendingE2bBuild) : undefined;
  }

  /** Forgets a requested build once it is queued. */
  async dropPending(buildId: string): Promise<void> {
    await this.redis.del(`e2b:tpl-build:${buildId}`);
  }

  /** True when the team's upload `hash` is still stored. */
  async hasFiles(teamId: string, hash: string): Promise<boolean> {
    return (await this.redis.exists(this.filesKey(teamId, hash))) === 1;
  }

  /** The team's upload `hash` (a tar archive, maybe gzip-compressed). */
  async files(teamId: string, hash: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.filesKey(teamId, hash))) ?? undefined;
  }

  /** A token that lets one PUT store the team's upload `hash`. */
  async uploadToken(teamId: string, hash: string): Promise<string> {
    const token = randomBytes(24).toString("hex");
    await this.redis.set(`e2b:tpl-upload:${token}`, `${teamId}:${hash}`, "EX", PENDING_TTL_SEC);
    return token;
  }

  /** Stores an upload if `token` was issued for `hash`; false for an unknown or used token. */
  async putFiles(token: string, hash: string, archive: Buffer): Promise<boolean> {
    const key = `e2b:tpl-upload:${token}`;
    const grant = await this.redis.getdel(key);
    if (!grant) return false;
    const [teamId, granted] = grant.split(":");
    if (!teamId || granted !== hash) return false;
    await this.redis.set(this.filesKey(teamId, hash), archive, "EX", FILES_TTL_SEC);
    return true;
  }
}
