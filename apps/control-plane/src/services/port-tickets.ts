import { createHash, randomBytes } from "node:crypto";
import { errors } from "@wrenn/common";
import type { Redis } from "ioredis";
import type { AuthContext } from "./auth-context.ts";
import type { SandboxesService } from "./sandboxes.ts";

/** Prefix of every port ticket, so a leaked one is recognisable (secret scanners, logs). */
export const PORT_TICKET_PREFIX = "wpt_";
/** The query parameter that carries a port ticket to the port's own host. */
export const PORT_TICKET_PARAM = "wrenn_port_ticket" as const;
/** How long a ticket can wait before it is used: enough to open a tab, too short to be worth stealing. */
export const PORT_TICKET_TTL_SEC = 30;

const ticketKey = (ticket: string) => `port-ticket:${createHash("sha256").update(ticket).digest("hex")}`;

/** Whom and what a port ticket admits, as stored in Redis (under the ticket's hash, never the ticket). */
export interface PortTicketGrant {
  userId: string;
  teamId: string;
  sandboxId: string;
  port: number;
  /** The user's session version at issue (signing out revokes the ticket's cookie). */
  sessionVersion: number;
}

/** A freshly issued port ticket. */
export interface IssuedPortTicket {
  ticket: string;
  expiresAt: Date;
}

/**
 * Single-use tickets that let a signed-in dashboard user open a sandbox port in a browser tab.
 * A tab cannot send the user's JWT or an API key, so the dashboard trades its session for a ticket
 * bound to the user, their team, one sandbox and one port; the port proxy consumes it once within
 * 30 s and answers with a host-only session cookie (see proxy/browser-session.ts).
 */
export class PortTicketsService {
  constructor(
    private readonly deps: { redis: Redis; sandboxes: SandboxesService },
    private readonly ttlSec = PORT_TICKET_TTL_SEC,
  ) {}

  /**
   * A ticket for `port` of a sandbox of the caller's team: signed-in users only (an API key can
   * reach the port with its own header), and the sandbox must exist in the team (`not_found`).
   */
  async issue(auth: AuthContext, sandboxId: string, port: number): Promise<IssuedPortTicket> {
    if (auth.kind !== "jwt" || !auth.userId || !auth.user) {
      throw errors.permissionDenied(
        "port tickets are for signed-in users; an API key reaches ports directly",
      );
    }
    const sandbox = await this.deps.sandboxes.get(auth, sandboxId);
    const grant: PortTicketGrant = {
      userId: auth.userId,
      teamId: sandbox.teamId,
      sandboxId: sandbox.id,
      port,
      sessionVersion: auth.user.sessionVersion,
    };
    const ticket = PORT_TICKET_PREFIX + randomBytes(32).toString("base64url");
    await this.deps.redis.set(ticketKey(ticket), JSON.stringify(grant), "EX", this.ttlSec);
    return { ticket, expiresAt: new Date(Date.now() + this.ttlSec * 1000) };
  }
}

/**
 * Consumes a port ticket (atomically: of two concurrent uses one wins) for `sandboxId`'s `port`.
 * Unknown, expired, used tickets and tickets of another sandbox or port (which are spent too)
 * are all `unauthenticated`. The caller re-checks the user's membership in the grant's team.
 */
export async function redeemPortTicket(
  redis: Redis,
  ticket: string,
  target: { sandboxId: string; port: number },
): Promise<PortTicketGrant> {
  const raw = ticket.startsWith(PORT_TICKET_PREFIX) ? await redis.getdel(ticketKey(ticket)) : null;
  if (!raw) {
    throw errors.unauthenticated(
      "this port link's ticket is invalid, expired or already used; open the port again from the dashboard",
    );
  }
  const grant = JSON.parse(raw) as PortTicketGrant;
  if (grant.sandboxId !== target.sandboxId || grant.port !== target.port) {
    throw errors.unauthenticated("this ticket is for another sandbox port");
  }
  return grant;
}
