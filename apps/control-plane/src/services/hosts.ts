import { errors, type Logger } from "@wrenn/common";
import {
  addHostTag,
  createHost,
  createHostRefreshToken,
  type Database,
  deleteHost,
  findLiveHostRefreshToken,
  getActiveTeam,
  getHost,
  getMembership,
  type Host,
  type HostWithTags,
  listActiveSandboxesOnHost,
  listHosts,
  listSandboxesOnHost,
  markHostTokensUsed,
  recordHeartbeatWithRecovery,
  recordHostToken,
  registerHost,
  removeHostTag,
  revokeAllHostRefreshTokens,
  revokeHostRefreshToken,
  type Sandbox,
  setHostBuiltTemplateSize,
  setHostCertificate,
  setHostWarmPool,
  updateSandbox,
} from "@wrenn/db";
import type { Redis } from "ioredis";
import {
  generateRefreshToken,
  generateRegistrationToken,
  HOST_REFRESH_TTL_SEC,
  HOST_REGISTRATION_TTL_SEC,
  type HostTokens,
  hashSecretToken,
} from "../auth/host-tokens.ts";
import { callAgent, type HostClientPool } from "../hosts/pool.ts";
import { type AgentReport, planFromHeartbeat } from "../hosts/reconcile.ts";
import type { HostWarmPoolEntry } from "../hosts/warm-placement.ts";
import { formatId } from "../ids.ts";
import { HOST_CERT_TTL_MS } from "../tls/agent-tls.ts";
import type { CertificateAuthority } from "../tls/ca.ts";
import { currentTeamAccess, requireUser } from "./access.ts";
import { type Actor, actorOf } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";
import { applyStateAction } from "./host-monitor.ts";

/** Specs a host agent detects and reports when it registers. */
export interface HostSpecs {
  arch: string;
  cpuCount: number;
  memoryMb: number;
  diskGb: number;
}

/** Credentials handed to a host agent at registration and on refresh. */
export interface HostCredentials {
  host: Host;
  /** Host JWT for `X-Host-Token`. */
  token: string;
  refreshToken: string;
  /** The host's mTLS certificate (7 days), its key and the CA, PEM; only when the CP has a CA. */
  tls?: { certPem: string; keyPem: string; caCertPem: string };
}

/** A heartbeat answer asks for a renewal when the host's certificate has less than this left. */
const CERT_RENEW_AHEAD_MS = 12 * 3600_000;

const registrationKey = (token: string) => `host-registration:${hashSecretToken(token)}`;

/**
 * Hosts: creation with a one-time registration token, registration,
 * heartbeats, token refresh with rotation, tags and deletion.
 *
 * Access: regular hosts are managed by platform admins only; a BYOC host by
 * the owners of its team (and platform admins). Members of a BYOC team can
 * see its hosts. Anyone else gets 404, as for any other team's resource.
 */
export class HostsService {
  constructor(
    private readonly deps: {
      db: Database;
      redis: Redis;
      tokens: HostTokens;
      audit: AuditLogger;
      pool: HostClientPool;
      log: Logger;
      /** Issues host certificates for mTLS; undefined = plain HTTP to agents (dev mode). */
      ca?: CertificateAuthority | undefined;
      now?: () => Date;
    },
  ) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Creates a pending host and returns it with a one-time registration token (1 h). */
  async create(
    auth: AuthContext,
    input: { type: "regular" | "byoc"; teamId?: string; provider?: string; availabilityZone?: string },
  ): Promise<{ host: HostWithTags; registrationToken: string }> {
    const userId = requireUser(auth);
    let teamId: string | null = null;
    if (input.type === "regular") {
      if (input.teamId) throw errors.invalidArgument("team_id is only for byoc hosts");
      if (!auth.isAdmin) throw errors.permissionDenied("only platform admins can add regular hosts");
    } else {
      teamId = input.teamId ?? auth.teamId;
      const team = await getActiveTeam(this.deps.db, teamId);
      if (!team) throw errors.notFound("team not found");
      if (!auth.isAdmin) {
        const m = await getMembership(this.deps.db, userId, teamId);
        if (!m) throw errors.notFound("team not found");
        if (m.role !== "owner") throw errors.permissionDenied("only team owners can add BYOC hosts");
      }
      if (!team.isByoc) throw errors.failedPrecondition("this team is not enabled for BYOC hosts");
    }
    const host = await createHost(this.deps.db, {
      type: input.type,
      teamId,
      provider: input.provider ?? "",
      availabilityZone: input.availabilityZone ?? "",
      createdBy: userId,
    });
    const registrationToken = await this.issueRegistrationToken(host.id, userId);
    await this.deps.audit.hostCreated(actorOf(auth), teamId, host.id, input.type);
    return { host: { ...host, tags: [] }, registrationToken };
  }

  private async issueRegistrationToken(hostId: string, userId: string | null): Promise<string> {
    const token = generateRegistrationToken();
    const expiresAt = new Date(this.now().getTime() + HOST_REGISTRATION_TTL_SEC * 1000);
    await this.deps.redis.set(registrationKey(token), hostId, "EX", HOST_REGISTRATION_TTL_SEC);
    await recordHostToken(this.deps.db, { hostId, createdBy: userId, expiresAt });
    return token;
  }

  /** Hosts the caller may see: all for platform admins, else the current team's BYOC hosts. */
  async list(auth: AuthContext): Promise<HostWithTags[]> {
    if (auth.isAdmin && auth.kind === "jwt") return listHosts(this.deps.db, {});
    const { team } = await currentTeamAccess(this.deps.db, auth);
    return listHosts(this.deps.db, { teamId: team.id });
  }

  /** One visible host. */
  async get(auth: AuthContext, hostId: string): Promise<HostWithTags> {
    return this.visible(auth, hostId);
  }

  private async visible(auth: AuthContext, hostId: string): Promise<HostWithTags> {
    const host = await getHost(this.deps.db, hostId);
    if (!host) throw errors.notFound("host not found");
    if (auth.isAdmin && auth.kind === "jwt") return host;
    if (host.type !== "byoc" || !host.teamId || !auth.userId) throw errors.notFound("host not found");
    const m = await getMembership(this.deps.db, auth.userId, host.teamId);
    if (!m) throw errors.notFound("host not found");
    return host;
  }

  private async manageable(auth: AuthContext, hostId: string): Promise<HostWithTags> {
    requireUser(auth);
    const host = await this.visible(auth, hostId);
    if (auth.isAdmin) return host;
    const m =
      host.teamId && auth.userId ? await getMembership(this.deps.db, auth.userId, host.teamId) : undefined;
    if (m?.role !== "owner") throw errors.permissionDenied("only team owners can manage BYOC hosts");
    return host;
  }

  /** A new registration token for a host that has not registered yet (the old one stops working). */
  async regenerateToken(
    auth: AuthContext,
    hostId: string,
  ): Promise<{ host: HostWithTags; registrationToken: string }> {
    const host = await this.manageable(auth, hostId);
    if (host.status !== "pending") {
      throw errors.failedPrecondition("host already registered; delete it and add it again to re-register");
    }
    await this.dropOutstandingRegistrationTokens(host.id);
    const registrationToken = await this.issueRegistrationToken(host.id, auth.userId);
    await this.deps.audit.hostTokenRegenerated(actorOf(auth), host.teamId, host.id);
    return { host, registrationToken };
  }

  // Tokens are stored by hash, so finding a host's keys needs a scan; this is rare (regeneration only).
  private async dropOutstandingRegistrationTokens(hostId: string): Promise<void> {
    const prefix = this.deps.redis.options.keyPrefix ?? "";
    let cursor = "0";
    do {
      const [next, keys] = await this.deps.redis.scan(
        cursor,
        "MATCH",
        `${prefix}host-registration:*`,
        "COUNT",
        500,
      );
      cursor = next;
      for (const full of keys) {
        const key = full.slice(prefix.length);
        if ((await this.deps.redis.get(key)) === hostId) await this.deps.redis.del(key);
      }
    } while (cursor !== "0");
  }

  /**
   * Consumes a one-time token (GETDEL: exactly one caller can win) and moves the
   * pending host online with its address and specs.
   */
  async register(token: string, address: string, specs: HostSpecs): Promise<HostCredentials> {
    const hostId = await this.deps.redis.getdel(registrationKey(token));
    if (!hostId) throw errors.unauthenticated("invalid or expired registration token");
    const now = this.now();
    const host = await this.deps.db.transaction(async (tx) => {
      const row = await registerHost(tx, hostId, { address, ...specs }, now);
      if (!row) return undefined;
      await markHostTokensUsed(tx, hostId, now);
      return row;
    });
    if (!host) throw errors.failedPrecondition("host is already registered or was deleted");
    const { refreshId: _, ...creds } = await this.issueCredentials(host);
    await this.deps.audit.hostRegistered(hostActor(host), host.teamId, host.id, address);
    this.deps.pool.evict(host.id);
    return creds;
  }

  private async issueCredentials(host: Host): Promise<HostCredentials & { refreshId: string }> {
    const refreshToken = generateRefreshToken();
    const row = await createHostRefreshToken(this.deps.db, {
      hostId: host.id,
      tokenHash: hashSecretToken(refreshToken),
      expiresAt: new Date(this.now().getTime() + HOST_REFRESH_TTL_SEC * 1000),
    });
    const token = await this.deps.tokens.sign(host.id, this.now().getTime());
    const tls = await this.issueCertificate(host);
    return { host, token, refreshToken, refreshId: row.id, ...(tls ? { tls } : {}) };
  }

  /**
   * A fresh server certificate for the host's registered address (IP SAN, or DNS SAN for a
   * name); its fingerprint and expiry are recorded on the host row. The control plane makes
   * the key pair: the refresh token that fetches it already lets its holder act as the host,
   * so a CSR would not protect more, and the agent needs no X.509 code.
   */
  private async issueCertificate(host: Host): Promise<HostCredentials["tls"]> {
    const ca = this.deps.ca;
    if (!ca) return undefined;
    const now = this.now();
    const cert = await ca.issue({
      use: "server",
      commonName: formatId("host", host.id),
      address: host.address,
      ttlMs: HOST_CERT_TTL_MS,
      now,
    });
    await setHostCertificate(
      this.deps.db,
      host.id,
      { fingerprint: cert.fingerprint, expiresAt: cert.notAfter },
      now,
    );
    return { certPem: cert.certPem, keyPem: cert.keyPem, caCertPem: ca.certPem };
  }

  /**
   * Whether a heartbeat answer should ask the host to refresh now: mTLS is on and the host
   * has no certificate yet (it registered before the CA was configured) or its certificate
   * is about to expire.
   */
  needsCertificate(host: Host): boolean {
    if (!this.deps.ca) return false;
    return !host.certExpiresAt || host.certExpiresAt.getTime() - this.now().getTime() < CERT_RENEW_AHEAD_MS;
  }

  /**
   * Rotates a refresh token: the new one is stored before the old one is
   * revoked, so a crash between the two leaves the host with a working token.
   */
  async refresh(refreshToken: string): Promise<HostCredentials> {
    const row = await findLiveHostRefreshToken(this.deps.db, hashSecretToken(refreshToken), this.now());
    if (!row) throw errors.unauthenticated("invalid or expired refresh token");
    const host = await getHost(this.deps.db, row.hostId);
    if (!host) throw errors.unauthenticated("host no longer exists");
    const { refreshId, ...creds } = await this.issueCredentials(host);
    if (!(await revokeHostRefreshToken(this.deps.db, row.id, this.now()))) {
      // A concurrent refresh with the same token won: this one must not start a second lineage.
      await revokeHostRefreshToken(this.deps.db, refreshId, this.now());
      throw errors.unauthenticated("refresh token already used");
    }
    return creds;
  }

  /**
   * Records a heartbeat of the host whose JWT was presented; the path id must be that host.
   * Its sandbox report (what the agent paused on its own, what it runs) is applied first, so
   * that once the host shows `online` — after a restart of `wrenn up`, say — the sandboxes'
   * states are the agent's.
   */
  async heartbeat(
    tokenHostId: string,
    pathHostId: string,
    report?: AgentReport,
    baseImageBytes?: number,
    warmPool?: HostWarmPoolEntry[],
  ): Promise<Host> {
    if (tokenHostId !== pathHostId) throw errors.permissionDenied("host token belongs to another host");
    if (report) {
      const now = this.now();
      const onHost = await listSandboxesOnHost(this.deps.db, pathHostId, ["running", "missing"]);
      for (const action of planFromHeartbeat(pathHostId, onHost, report, now)) {
        if (action.kind === "destroy_orphan") continue;
        if (await applyStateAction(this.deps, { id: pathHostId }, action, now)) {
          this.deps.log.info({ hostId: pathHostId, ...action }, "heartbeat report applied");
        }
      }
    }
    // The platform's `minimal` template is the guest image each host builds: its size is theirs.
    if (baseImageBytes) await setHostBuiltTemplateSize(this.deps.db, baseImageBytes);
    // Placement prefers hosts with a warm VM of the template and counts warm VMs' memory.
    if (warmPool) await setHostWarmPool(this.deps.db, pathHostId, warmPool);
    const beat = await recordHeartbeatWithRecovery(this.deps.db, pathHostId, this.now());
    if (!beat) throw errors.notFound("host not found");
    if (beat.recovered) await this.deps.audit.hostStatusChanged(beat.host.teamId, beat.host.id, "online", 0);
    return beat.host;
  }

  /** Adds a tag to a host. */
  async addTag(auth: AuthContext, hostId: string, tag: string): Promise<HostWithTags> {
    const host = await this.manageable(auth, hostId);
    await addHostTag(this.deps.db, host.id, tag);
    await this.deps.audit.hostTagChanged(actorOf(auth), host.teamId, host.id, tag, true);
    return (await getHost(this.deps.db, host.id)) ?? host;
  }

  /** Removes a tag from a host; `not_found` when the host did not have it. */
  async removeTag(auth: AuthContext, hostId: string, tag: string): Promise<HostWithTags> {
    const host = await this.manageable(auth, hostId);
    if (!(await removeHostTag(this.deps.db, host.id, tag))) throw errors.notFound("tag not found on host");
    await this.deps.audit.hostTagChanged(actorOf(auth), host.teamId, host.id, tag, false);
    return (await getHost(this.deps.db, host.id)) ?? host;
  }

  /**
   * Deletes a host. With live sandboxes on it this is `failed_precondition`
   * (409) listing them, unless `force`: then each is destroyed on the agent
   * (best effort: an unreachable agent cannot stop deleting) and marked stopped.
   */
  async delete(auth: AuthContext, hostId: string, force: boolean): Promise<void> {
    const host = await this.manageable(auth, hostId);
    const live = await listActiveSandboxesOnHost(this.deps.db, host.id);
    if (live.length && !force) {
      throw errors.failedPrecondition(
        `host has ${live.length} sandbox(es); destroy them first or delete with ?force=true`,
        { sandboxes: live.map((s) => formatId("sandbox", s.id)) },
      );
    }
    for (const sb of live) await this.destroyOnHost(host, sb);
    await revokeAllHostRefreshTokens(this.deps.db, host.id, this.now());
    await this.dropOutstandingRegistrationTokens(host.id);
    await deleteHost(this.deps.db, host.id);
    this.deps.pool.evict(host.id);
    await this.deps.audit.hostDeleted(actorOf(auth), host.teamId, host.id, live.length);
  }

  private async destroyOnHost(host: Host, sb: Sandbox): Promise<void> {
    if (host.address) {
      try {
        await callAgent("destroy a sandbox", () =>
          this.deps.pool.get(host).destroySandbox({ sandboxId: formatId("sandbox", sb.id) }),
        );
      } catch (err) {
        this.deps.log.warn({ err, sandboxId: sb.id, hostId: host.id }, "destroy during host delete failed");
      }
    }
    await updateSandbox(this.deps.db, sb.id, { state: "stopped" }, this.now());
  }
}

/** The audit actor of a host agent. */
export function hostActor(host: Host): Actor {
  return { type: "host", id: formatId("host", host.id), name: host.address || formatId("host", host.id) };
}
