import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type ErrorCode, errorCodeByConnectCode, errors, isErrorCode, WrennError } from "@wrenn/common";
import { HostAgentService } from "@wrenn/proto";
import type { AgentTls } from "../tls/agent-tls.ts";

/** A Connect client of one host agent. */
export type AgentClient = Client<typeof HostAgentService>;

/** What the pool needs to know about a host. */
export interface HostAddress {
  id: string;
  address: string;
}

/**
 * One lazily created Connect client per host, so every request to a host shares one
 * HTTP/2 session: h2c (prior knowledge) without `tls`, else HTTP/2 over mTLS, the agent's
 * certificate verified against the CA. A host whose address changed (re-registration)
 * gets a new client, and so does every host once the client certificate was renewed
 * (the old session closes when idle, its streams finish with the old certificate).
 */
export class HostClientPool {
  readonly #clients = new Map<string, { address: string; generation: number; client: AgentClient }>();

  constructor(private readonly options: { timeoutMs?: number; tls?: AgentTls | undefined } = {}) {}

  /** The mTLS settings shared with the port-proxy forwarder; undefined in plain-HTTP (dev) mode. */
  get tls(): AgentTls | undefined {
    return this.options.tls;
  }

  /** The client of `host`, created on first use. */
  get(host: HostAddress): AgentClient {
    if (!host.address) throw errors.unavailable("host has not registered an address yet");
    const tls = this.options.tls;
    const generation = tls?.generation ?? 0;
    const cached = this.#clients.get(host.id);
    if (cached && cached.address === host.address && cached.generation === generation) return cached.client;
    const transport = createConnectTransport({
      baseUrl: `${tls ? "https" : "http"}://${host.address}`,
      httpVersion: "2",
      ...(tls ? { nodeOptions: tls.http2Options() } : {}),
      ...(this.options.timeoutMs ? { defaultTimeoutMs: this.options.timeoutMs } : {}),
    });
    const client = createClient(HostAgentService, transport);
    this.#clients.set(host.id, { address: host.address, generation, client });
    return client;
  }

  /** Forgets a host's client (deleted host). Its HTTP/2 session closes when idle. */
  evict(hostId: string): void {
    this.#clients.delete(hostId);
  }

  /** Number of cached clients. */
  get size(): number {
    return this.#clients.size;
  }
}

/**
 * How the control plane reads an agent's Connect code, where it differs from the common
 * `errorCodeByConnectCode`: the control plane is always allowed, so a refusal is our bug; an
 * agent call that ran out of time or was cancelled means the host is as good as unreachable.
 */
const agentCodeOverrides: Partial<Record<Code, ErrorCode>> = {
  [Code.PermissionDenied]: "internal",
  [Code.Unauthenticated]: "internal",
  [Code.Canceled]: "unavailable",
  [Code.DeadlineExceeded]: "unavailable",
};

/** The Wrenn code of an agent's Connect code, within the control plane's closed set. */
export function agentErrorCode(code: Code): ErrorCode {
  const mapped = agentCodeOverrides[code] ?? errorCodeByConnectCode[code];
  return isErrorCode(mapped) ? mapped : "internal";
}

/**
 * Turns an agent call failure into a WrennError. Agent messages are client-safe
 * (the agent already hides internals) except for `internal`, which is replaced.
 * Transport failures (connection refused, reset) surface as Connect `unavailable`.
 */
export function agentError(err: unknown, what: string): WrennError {
  if (err instanceof WrennError) return err;
  const connectError = ConnectError.from(err);
  if (isTlsFailure(connectError.cause)) {
    // A certificate the other side refuses makes the host unusable, as if it were down.
    return errors.unavailable(`host agent unavailable while trying to ${what} (TLS handshake failed)`, err);
  }
  const code = agentErrorCode(connectError.code);
  if (code === "unavailable")
    return errors.unavailable(`host agent unavailable while trying to ${what}`, err);
  if (code === "internal") return errors.internal(`host agent failed to ${what}`, err);
  return new WrennError(code, connectError.rawMessage, { cause: err });
}

// Node's TLS errors: its own (ERR_TLS_*, ERR_SSL_*) and OpenSSL's verification codes.
const TLS_ERROR_CODE = /^(ERR_TLS_|ERR_SSL_)|CERT|UNABLE_TO_|SELF_SIGNED|^EPROTO$/;

function isTlsFailure(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && TLS_ERROR_CODE.test(code);
}

/** Runs one agent call, mapping its failure through {@link agentError}. */
export async function callAgent<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw agentError(err, what);
  }
}
