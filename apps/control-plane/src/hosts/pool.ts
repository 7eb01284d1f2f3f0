import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type ErrorCode, errors, WrennError } from "@wrenn/common";
import { HostAgentService } from "@wrenn/proto";

/** A Connect client of one host agent. */
export type AgentClient = Client<typeof HostAgentService>;

/** What the pool needs to know about a host. */
export interface HostAddress {
  id: string;
  address: string;
}

/**
 * One lazily created Connect client per host (h2c, HTTP/2 prior knowledge),
 * so every request to a host shares one HTTP/2 session. A host whose address
 * changed (re-registration) gets a new client.
 */
export class HostClientPool {
  readonly #clients = new Map<string, { address: string; client: AgentClient }>();

  constructor(private readonly options: { timeoutMs?: number } = {}) {}

  /** The client of `host`, created on first use. */
  get(host: HostAddress): AgentClient {
    if (!host.address) throw errors.unavailable("host has not registered an address yet");
    const cached = this.#clients.get(host.id);
    if (cached && cached.address === host.address) return cached.client;
    const transport = createConnectTransport({
      baseUrl: `http://${host.address}`,
      httpVersion: "2",
      ...(this.options.timeoutMs ? { defaultTimeoutMs: this.options.timeoutMs } : {}),
    });
    const client = createClient(HostAgentService, transport);
    this.#clients.set(host.id, { address: host.address, client });
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

/** The one mapping from Connect codes (as the agent answers) to Wrenn error codes. */
export const errorCodeByConnectCode: Record<Code, ErrorCode> = {
  [Code.Canceled]: "unavailable",
  [Code.Unknown]: "internal",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "unavailable",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "internal", // the control plane is always allowed: a refusal is our bug
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "failed_precondition",
  [Code.OutOfRange]: "invalid_argument",
  [Code.Unimplemented]: "internal",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "internal",
  [Code.Unauthenticated]: "internal",
};

/**
 * Turns an agent call failure into a WrennError. Agent messages are client-safe
 * (the agent already hides internals) except for `internal`, which is replaced.
 * Transport failures (connection refused, reset) surface as Connect `unavailable`.
 */
export function agentError(err: unknown, what: string): WrennError {
  if (err instanceof WrennError) return err;
  const ce = ConnectError.from(err);
  const code = errorCodeByConnectCode[ce.code];
  if (code === "unavailable")
    return errors.unavailable(`host agent unavailable while trying to ${what}`, err);
  if (code === "internal") return errors.internal(`host agent failed to ${what}`, err);
  return new WrennError(code, ce.rawMessage, { cause: err });
}

/** Runs one agent call, mapping its failure through {@link agentError}. */
export async function callAgent<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw agentError(err, what);
  }
}
