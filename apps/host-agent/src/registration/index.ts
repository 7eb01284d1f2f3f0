import type { Logger } from "@wrenn/common";
import { errors } from "@wrenn/common";
import { type Fetch, type HeartbeatReport, registerHost } from "./client.ts";
import { type HostTlsMaterial, loadCredentials, saveCredentials } from "./credentials.ts";
import { HostSession } from "./session.ts";
import { detectHostSpecs } from "./specs.ts";

export {
  type Fetch,
  type HeartbeatReport,
  RENEW_CERTIFICATE_HEADER,
  refreshHostCredentials,
  registerHost,
  secondsUntilExpiry,
  sendHeartbeat,
} from "./client.ts";
export {
  type HostCredentials,
  type HostTlsMaterial,
  loadCredentials,
  saveCredentials,
} from "./credentials.ts";
export { type BeatResult, HEARTBEAT_INTERVAL_MS, HostSession, type HostSessionOptions } from "./session.ts";
export { detectHostSpecs, type HostSpecs } from "./specs.ts";

/** Options of {@link connectToControlPlane}. */
export interface ConnectOptions {
  /** Credentials file (default `<dataDir>/host-credentials.json`), written 0600. */
  credentialsPath: string;
  /** Data directory whose file system size is reported as the host's disk. */
  dataDir: string;
  /** Control plane base URL; required with a registration token. */
  controlPlaneUrl?: string | undefined;
  /** One-time token from `POST /v1/hosts` (`--register`); registers and overwrites saved credentials. */
  registrationToken?: string | undefined;
  /** `ip:port` the control plane reaches this agent at (`--address`); required with a token. */
  address?: string | undefined;
  logger: Logger;
  /** Called when the control plane refuses this host for good: pause every sandbox. */
  onRevoked: () => Promise<void>;
  /**
   * Installs the host's mTLS certificate in the agent's listener (`AgentServer.setTls`):
   * called with the saved or newly registered certificate, then after every refresh.
   */
  onTlsMaterial?: ((tls: HostTlsMaterial) => void) | undefined;
  /** The sandbox report each heartbeat carries (see {@link HeartbeatReport}). */
  report?: (() => HeartbeatReport) | undefined;
  intervalMs?: number;
  fetch?: Fetch;
}

/**
 * Registers (when given a token) or loads saved credentials, then starts the
 * heartbeat session. Throws `failed_precondition` when there is neither.
 */
export async function connectToControlPlane(options: ConnectOptions): Promise<HostSession> {
  let credentials = await loadCredentials(options.credentialsPath);
  if (options.registrationToken) {
    if (!options.controlPlaneUrl) throw errors.invalidArgument("registering needs the control plane URL");
    if (!options.address) throw errors.invalidArgument("registering needs --address ip:port");
    credentials = await registerHost({
      controlPlaneUrl: options.controlPlaneUrl,
      registrationToken: options.registrationToken,
      address: options.address,
      specs: await detectHostSpecs(options.dataDir),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    await saveCredentials(options.credentialsPath, credentials);
    options.logger.info({ hostId: credentials.hostId }, "registered with the control plane");
  }
  if (!credentials) {
    throw errors.failedPrecondition(
      `no host credentials at ${options.credentialsPath}: register with WRENN_REGISTRATION_TOKEN=<token> and --address ip:port --control-plane <url>`,
    );
  }
  if (credentials.tls) options.onTlsMaterial?.(credentials.tls);
  const session = new HostSession({
    credentials,
    credentialsPath: options.credentialsPath,
    logger: options.logger,
    onRevoked: options.onRevoked,
    onTlsMaterial: options.onTlsMaterial,
    report: options.report,
    ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  session.start();
  return session;
}
