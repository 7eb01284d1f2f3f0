import { createHash, randomBytes } from "node:crypto";
import { errors } from "@wrenn/common";
import { type Database, getApiKeyWithTeam, getUserById } from "@wrenn/db";
import type { Redis } from "ioredis";
import type { AuthContext } from "./auth-context.ts";
import type { SandboxesService } from "./sandboxes.ts";

/** Prefix of every WebSocket ticket, so a leaked one is recognisable (secret scanners, logs). */
export const WS_TICKET_PREFIX = "wst_";
/** How long a ticket can wait before it is used: enough to open a socket, too short to be worth stealing. */
export const WS_TICKET_TTL_SEC = 30;

const ticketKey = (ticket: string) => `ws-ticket:${createHash("sha256").update(ticket).digest("hex")}`;

/** What a ticket stands for, as stored in Redis (under the ticket's hash, never the ticket). */
interface TicketRecord {
  kind: AuthContext["kind"];
  userId: string | null;
  teamId: string;
  sandboxId: string;
  apiKeyId: string | null;
}

/** A freshly issued ticket. */
export interface IssuedTicket {
  ticket: string;
  expiresAt: Date;
}

/**
 * Single-use WebSocket tickets. Browsers cannot put headers on a WebSocket, and a long-lived
 * credential in a URL would end up in logs and history, so the dashboard trades its session
 * for a ticket bound to one sandbox (and its team and user) that works once within 30 s.
 */
export class WsTicketsService {
  constructor(
    private readonly deps: { db: Database; redis: Redis; sandboxes: SandboxesService },
    private readonly ttlSec = WS_TICKET_TTL_SEC,
  ) {}

  /** A ticket for a sandbox of the caller's team (the sandbox must exist there: not_found otherwise). */
  async issue(auth: AuthContext, sandboxId: string): Promise<IssuedTicket> {
    const sandbox = await this.deps.sandboxes.get(auth, sandboxId);
    const record: TicketRecord = {
      kind: auth.kind,
      userId: auth.userId,
      teamId: sandbox.teamId,
      sandboxId: sandbox.id,
      apiKeyId: auth.apiKey?.id ?? null,
    };
    const ticket = WS_TICKET_PREFIX + randomBytes(32).toString("base64url");
    await this.deps.redis.set(ticketKey(ticket), JSON.stringify(record), "EX", this.ttlSec);
    return { ticket, expiresAt: new Date(Date.now() + this.ttlSec * 1000) };
  }

  /**
   * Consumes `ticket` (atomically: of two concurrent uses one wins) for `sandboxId` and returns
   * the caller it was issued to, re-read from the database. Unknown, expired or used tickets are
   * `unauthenticated`; a ticket of another sandbox is `permission_denied` (and is spent).
   */
  async redeem(ticket: string, sandboxId: string): Promise<AuthContext> {
    const raw = ticket.startsWith(WS_TICKET_PREFIX) ? await this.deps.redis.getdel(ticketKey(ticket)) : null;
    if (!raw) throw errors.unauthenticated("WebSocket ticket is invalid, expired or already used");
    const record = JSON.parse(raw) as TicketRecord;
    if (record.sandboxId !== sandboxId) throw errors.permissionDenied("this ticket is for another sandbox");
    return record.kind === "api_key" ? this.apiKeyCaller(record) : this.userCaller(record);
  }

  private async userCaller(record: TicketRecord): Promise<AuthContext> {
    const user = record.userId ? await getUserById(this.deps.db, record.userId) : undefined;
    if (!user) throw errors.unauthenticated("user no longer exists");
    // Membership in the team is re-checked by the stream's own sandbox lookup.
    return {
      kind: "jwt",
      userId: user.id,
      teamId: record.teamId,
      roleHint: null,
      isAdmin: user.isAdmin,
      name: user.name,
      email: user.email,
      user,
    };
  }

  private async apiKeyCaller(record: TicketRecord): Promise<AuthContext> {
    const found = record.apiKeyId ? await getApiKeyWithTeam(this.deps.db, record.apiKeyId) : undefined;
    if (!found || found.team.id !== record.teamId) throw errors.unauthenticated("invalid API key");
    return {
      kind: "api_key",
      userId: found.key.createdBy,
      teamId: found.team.id,
      roleHint: null,
      isAdmin: false,
      name: found.key.name,
      email: "",
      apiKey: { id: found.key.id, name: found.key.name },
      team: found.team,
    };
  }
}
