import { createHmac, timingSafeEqual } from "node:crypto";
import { errors } from "@wrenn/common";
import { type Database, getMembership, getUserById } from "@wrenn/db";
import type { Redis } from "ioredis";
import { PORT_TICKET_PARAM, redeemPortTicket } from "../services/port-tickets.ts";
import type { ProxyAddress } from "./address.ts";

/** The cookie that carries a browser's session for one sandbox port (host-only: one port host). */
export const PORT_SESSION_COOKIE = "wrenn_port_session";
/** How long a port session cookie is good for; membership is re-checked on every request anyway. */
export const PORT_SESSION_TTL_SEC = 3600;
/**
 * How long a positive check of user and membership is cached: removal from the team, sign-out and a
 * password change stop a port session's cookie within this.
 */
export const MEMBERSHIP_CACHE_SEC = 5;

/** Whom a port session stands for. */
export interface PortSession {
  userId: string;
  teamId: string;
  sandboxId: string;
  port: number;
  /**
   * The user's session version when the ticket was issued: signing out or changing the password
   * bumps it (as it revokes their JWTs), which stops this cookie too.
   */
  sessionVersion: number;
  /** Expiry, Unix seconds. */
  exp: number;
}

const SIGNED_FIELDS = 6;

/**
 * Signs and checks port session tokens: `userId.teamId.sandboxId.port.sessionVersion.exp.mac` with an HMAC-SHA256
 * under a key derived from the control plane's JWT secret (a session token is no JWT and a JWT is
 * no session token: the derivation separates them).
 */
export class PortSessionSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac("sha256", secret).update("wrenn port session v1").digest();
  }

  private mac(body: string): Buffer {
    return createHmac("sha256", this.key).update(body).digest();
  }

  /** A token for `session`. */
  sign(session: PortSession): string {
    const body = [
      session.userId,
      session.teamId,
      session.sandboxId,
      session.port,
      session.sessionVersion,
      session.exp,
    ].join(".");
    return `${body}.${this.mac(body).toString("base64url")}`;
  }

  /**
   * The session in `token` when it is well-signed, unexpired and for `address`'s sandbox and
   * port; `unauthenticated` otherwise (a forged, expired or other-port cookie alike).
   */
  verify(token: string, address: ProxyAddress, nowSec = Math.floor(Date.now() / 1000)): PortSession {
    const parts = token.split(".");
    const bad = () =>
      errors.unauthenticated("the port session cookie is invalid; open the port again from the dashboard");
    if (parts.length !== SIGNED_FIELDS + 1) throw bad();
    const given = Buffer.from(parts[SIGNED_FIELDS] ?? "", "base64url");
    const want = this.mac(parts.slice(0, SIGNED_FIELDS).join("."));
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw bad();
    const [userId = "", teamId = "", sandboxId = "", port, sessionVersion, exp] = parts;
    const session: PortSession = {
      userId,
      teamId,
      sandboxId,
      port: Number(port),
      sessionVersion: Number(sessionVersion),
      exp: Number(exp),
    };
    if (!(session.exp > nowSec)) {
      throw errors.unauthenticated("the port session has expired; open the port again from the dashboard");
    }
    if (session.sandboxId !== address.sandboxId || session.port !== address.port) {
      throw errors.unauthenticated("this port session is for another sandbox port");
    }
    return session;
  }
}

/** The value of cookie `name` in a `Cookie` header (the first one), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `header` without cookie `name` (undefined when nothing else is left): the guest never sees it. */
export function stripCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return header;
  const kept = header
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p && p.slice(0, p.indexOf("=") === -1 ? p.length : p.indexOf("=")).trim() !== name);
  return kept.length ? kept.join("; ") : undefined;
}

/** The ticket in a request's path+query, if it carries one (the first). */
export function ticketOf(url: string | undefined): string | undefined {
  const q = url?.indexOf("?") ?? -1;
  if (!url || q === -1) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get(PORT_TICKET_PARAM) ?? undefined;
}

/** `url` (path+query) without the ticket parameter; the rest of the query stays as it was sent. */
export function withoutTicket(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const kept = url
    .slice(q + 1)
    .split("&")
    .filter((p) => p && !p.startsWith(`${PORT_TICKET_PARAM}=`) && p !== PORT_TICKET_PARAM);
  return kept.length ? `${url.slice(0, q)}?${kept.join("&")}` : url.slice(0, q);
}

/** The `Set-Cookie` value of a port session: HttpOnly, SameSite=Lax, host-only, Secure over TLS. */
export function sessionCookie(token: string, secure: boolean, maxAgeSec = PORT_SESSION_TTL_SEC): string {
  return [
    `${PORT_SESSION_COOKIE}=${token}`,
    "Path=/",
    `Max-Age=${maxAgeSec}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/** Where a positive check of a port session's user and membership is cached. */
export function portSessionCacheKey(
  session: Pick<PortSession, "userId" | "teamId" | "sessionVersion">,
): string {
  return `wrenn:proxy:member:${session.userId}:${session.teamId}:${session.sessionVersion}`;
}

/**
 * Browser access to sandbox ports: trades a port ticket for a session cookie, and checks a
 * session cookie — signature, expiry, sandbox and port, then against the database that the
 * user has not signed out or changed password since, and is still in the team (cached
 * {@link MEMBERSHIP_CACHE_SEC} s). The caller checks that the sandbox belongs to the session's team.
 */
export class PortBrowserSessions {
  readonly signer: PortSessionSigner;

  constructor(private readonly deps: { db: Database; redis: Redis; secret: string; ttlSec?: number }) {
    this.signer = new PortSessionSigner(deps.secret);
  }

  /** Consumes `ticket` for `address` and returns the session cookie's token for it. */
  async redeem(ticket: string, address: ProxyAddress): Promise<{ token: string; session: PortSession }> {
    const grant = await redeemPortTicket(this.deps.redis, ticket, address);
    const session: PortSession = {
      ...grant,
      exp: Math.floor(Date.now() / 1000) + (this.deps.ttlSec ?? PORT_SESSION_TTL_SEC),
    };
    await this.checkStillValid(session);
    return { token: this.signer.sign(session), session };
  }

  /** The session of a cookie token for `address` (user and membership re-checked); `unauthenticated` otherwise. */
  async check(token: string, address: ProxyAddress): Promise<PortSession> {
    const session = this.signer.verify(token, address);
    await this.checkStillValid(session);
    return session;
  }

  private async checkStillValid(session: PortSession): Promise<void> {
    const key = portSessionCacheKey(session);
    if ((await this.deps.redis.get(key).catch(() => null)) === "1") return;
    const user = await getUserById(this.deps.db, session.userId);
    if (user?.sessionVersion !== session.sessionVersion) {
      throw errors.unauthenticated(
        "you signed out since opening this port; open it again from the dashboard",
      );
    }
    const member = await getMembership(this.deps.db, session.userId, session.teamId);
    if (!member) throw errors.unauthenticated("you are no longer a member of this sandbox's team");
    await this.deps.redis.set(key, "1", "EX", MEMBERSHIP_CACHE_SEC).catch(() => undefined);
  }
}
