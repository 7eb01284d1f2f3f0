import { createHash, timingSafeEqual } from "node:crypto";
import { errors, type Logger } from "@wrenn/common";
import {
  type Database,
  findApiKeyByHash,
  getSandboxProxyTarget,
  type SandboxState,
  touchSandboxActivity,
} from "@wrenn/db";
import type { Redis } from "ioredis";
import { canonicalApiKey, hashApiKey } from "../auth/api-keys.ts";
import type { EnvdTokenVault } from "../crypto/envd-tokens.ts";
import { ENVD_PORT, type ProxyAddress } from "./address.ts";
import { NOT_RUNNING_DETAIL } from "./not-running.ts";

/** A sandbox's routing facts as cached (the access token only as its SHA-256). */
interface CachedTarget {
  teamId: string;
  state: SandboxState;
  hostAddress: string;
  hostStatus: string | null;
  tokenHash: string | null;
  /** E2B's auto-resume: traffic resumes the sandbox while it is paused. */
  autoResume?: boolean;
}

/** The credentials a proxied request may carry. */
export interface ProxyCredentials {
  /** `X-API-Key`: a team API key; its team must own the sandbox. */
  apiKey?: string | undefined;
  /** `X-Access-Token`: the sandbox's envd access token (what the `e2b` SDK sends). */
  accessToken?: string | undefined;
}

/** Where an authorized request goes. */
export interface ProxyDestination {
  /** The owning host agent's `ip:port`. */
  hostAddress: string;
}

const NO_CREDENTIAL =
  "the port proxy needs an X-API-Key, the sandbox's X-Access-Token, or (in a browser) a link opened from the dashboard";

/** How long a lookup stays cached; pause and destroy drop it at once. */
export const PROXY_CACHE_TTL_SEC = 30;
// Proxied traffic writes last_active_at at most this often per sandbox.
const ACTIVITY_INTERVAL_SEC = 30;

const sha256 = (s: string) => createHash("sha256").update(s).digest();
const tokenHashOf = (token: string | null) => (token ? sha256(token).toString("hex") : null);

/**
 * True for a request to envd's `/files` that carries a `signature` query parameter
 * (an E2B-style signed download/upload URL). Such a request may pass the proxy without
 * a Wrenn credential: envd, which holds the access token, verifies the signature, its
 * expiry, the path and the user. The path must be exactly `/files` as sent (no
 * normalisation), so no other envd route can ride on a signature.
 */
export function isSignedEnvdFileRequest(address: ProxyAddress, url: string | undefined): boolean {
  if (address.port !== ENVD_PORT || !url) return false;
  const query = url.indexOf("?");
  if (query === -1 || url.slice(0, query) !== "/files") return false;
  return new URLSearchParams(url.slice(query + 1)).has("signature");
}

/**
 * Decides whether a proxied request may reach a sandbox port, and where it goes.
 * Lookups of running sandboxes are cached in Redis (one query per miss); other
 * states are read fresh every time so a resumed or new sandbox is reachable at once.
 */
export class ProxyAccess {
  constructor(
    private readonly deps: {
      db: Database;
      redis: Redis;
      log: Logger;
      ttlSec?: number;
      /** Opens stored (encrypted) envd tokens; default: stored as they are. */
      envdTokens?: EnvdTokenVault;
      /**
       * Resumes a paused sandbox created with E2B's auto-resume (see e2b/auto-resume.ts);
       * unset = a paused sandbox is answered as not running.
       */
      autoResume?: (target: { sandboxId: string; teamId: string }) => Promise<void>;
    },
  ) {}

  /** Auto-resumes in progress, by sandbox: concurrent requests wait for the one resume. */
  readonly #waking = new Map<string, Promise<CachedTarget | undefined>>();

  private key(sandboxId: string): string {
    return `wrenn:proxy:target:${sandboxId}`;
  }

  /** Drops the cached lookup of a sandbox (called when it is paused or destroyed). */
  async invalidate(sandboxId: string): Promise<void> {
    await this.deps.redis.del(this.key(sandboxId));
  }

  private async lookup(sandboxId: string): Promise<CachedTarget | undefined> {
    const cached = await this.deps.redis.get(this.key(sandboxId)).catch((err: unknown) => {
      this.deps.log.warn({ err }, "port proxy cache read failed; using the database");
      return null;
    });
    if (cached) return JSON.parse(cached) as CachedTarget;
    const row = await getSandboxProxyTarget(this.deps.db, sandboxId);
    if (!row) return undefined;
    const target: CachedTarget = {
      teamId: row.teamId,
      state: row.state,
      hostAddress: row.hostAddress,
      hostStatus: row.hostStatus,
      tokenHash: tokenHashOf(
        this.deps.envdTokens?.open(row.sandboxId, row.envdAccessToken) ?? row.envdAccessToken,
      ),
      autoResume: row.autoResume,
    };
    if (target.state === "running" && target.hostStatus === "online") {
      await this.deps.redis
        .set(this.key(sandboxId), JSON.stringify(target), "EX", this.deps.ttlSec ?? PROXY_CACHE_TTL_SEC)
        .catch((err: unknown) => this.deps.log.warn({ err }, "port proxy cache write failed"));
    }
    return target;
  }

  /**
   * Authorizes a request for `address`: `unauthenticated` without a valid credential,
   * `not_found` for a sandbox the credential's team does not own, `failed_precondition`
   * when the sandbox is not running, `unavailable` when its host is not online.
   */
  async authorize(address: ProxyAddress, creds: ProxyCredentials): Promise<ProxyDestination> {
    if (!creds.apiKey && !creds.accessToken) {
      throw errors.unauthenticated(NO_CREDENTIAL);
    }
    const target = await this.lookup(address.sandboxId);
    if (!(await this.allowed(target, creds))) {
      if (creds.apiKey) throw errors.notFound("sandbox not found");
      throw errors.unauthenticated("invalid access token");
    }
    return await this.destination(address, target);
  }

  /**
   * Authorizes a browser's port session (proxy/browser-session.ts) whose user is a member of
   * `teamId`: the sandbox must belong to that team (`not_found` otherwise, like another team's
   * sandbox for an API key), then it is routed like {@link authorize}.
   */
  async authorizeTeam(address: ProxyAddress, teamId: string): Promise<ProxyDestination> {
    const target = await this.lookup(address.sandboxId);
    if (target?.teamId !== teamId) throw errors.notFound("sandbox not found");
    return await this.destination(address, target);
  }

  /**
   * Routes a credential-less signed envd `/files` request ({@link isSignedEnvdFileRequest}):
   * the sandbox is resolved like for {@link authorize} (`not_found`, `failed_precondition`,
   * `unavailable`), and envd decides whether the signature is good. Anyone holding a
   * signed URL learns only what the URL already names: that this sandbox exists.
   */
  async authorizeSignedFileUrl(address: ProxyAddress, url: string | undefined): Promise<ProxyDestination> {
    if (!isSignedEnvdFileRequest(address, url)) {
      throw errors.unauthenticated(NO_CREDENTIAL);
    }
    return await this.destination(address, await this.lookup(address.sandboxId));
  }

  private async destination(
    address: ProxyAddress,
    found: CachedTarget | undefined,
  ): Promise<ProxyDestination> {
    let target = found;
    if (target?.state === "paused" && target.autoResume && this.deps.autoResume) {
      target = await this.wake(address.sandboxId, target.teamId);
    }
    if (!target) throw errors.notFound("sandbox not found");
    if (target.state !== "running") {
      throw errors.failedPrecondition(`sandbox is ${target.state}; resume it to reach its ports`, {
        [NOT_RUNNING_DETAIL]: target.state,
      });
    }
    if (target.hostStatus !== "online" || !target.hostAddress) {
      throw errors.unavailable(`the host of this sandbox is ${target.hostStatus ?? "gone"}`);
    }
    this.recordActivity(address.sandboxId);
    return { hostAddress: target.hostAddress };
  }

  /**
   * Resumes a paused auto-resume sandbox once however many requests arrive meanwhile, then reads
   * it again. A failed resume (or one another control plane won) leaves whatever state the
   * database holds: still paused answers E2B's "not running", running is routed.
   */
  private wake(sandboxId: string, teamId: string): Promise<CachedTarget | undefined> {
    const autoResume = this.deps.autoResume;
    let pending = this.#waking.get(sandboxId);
    if (!pending && autoResume) {
      pending = autoResume({ sandboxId, teamId })
        .catch((err: unknown) => this.deps.log.warn({ err, sandboxId }, "auto-resume failed"))
        .then(() => this.lookup(sandboxId))
        .finally(() => this.#waking.delete(sandboxId));
      this.#waking.set(sandboxId, pending);
    }
    return pending ?? this.lookup(sandboxId);
  }

  private async allowed(target: CachedTarget | undefined, creds: ProxyCredentials): Promise<boolean> {
    if (creds.accessToken && target?.tokenHash) {
      const given = sha256(creds.accessToken);
      if (timingSafeEqual(given, Buffer.from(target.tokenHash, "hex"))) return true;
    }
    if (!creds.apiKey) return false;
    // Re-checked against the database on every request, so a revoked key stops at once.
    const key = canonicalApiKey(creds.apiKey);
    const found = key ? await findApiKeyByHash(this.deps.db, hashApiKey(key)) : undefined;
    if (!found) throw errors.unauthenticated("invalid API key");
    return target !== undefined && found.key.teamId === target.teamId;
  }

  /**
   * Counts proxied traffic as activity without a database write per request: the host
   * agent resets its inactivity timer on every proxied request, and `last_active_at`
   * is written at most once per interval (a Redis `SET NX` claims the write).
   */
  private recordActivity(sandboxId: string): void {
    const { redis, db, log } = this.deps;
    void redis
      .set(`wrenn:proxy:active:${sandboxId}`, "1", "EX", ACTIVITY_INTERVAL_SEC, "NX")
      .then((claimed) => (claimed ? touchSandboxActivity(db, sandboxId) : undefined))
      .catch((err: unknown) => log.warn({ err }, "recording proxied activity failed"));
  }
}
