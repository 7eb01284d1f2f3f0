import { isWrennError, type Logger } from "@wrenn/common";
import {
  type Fetch,
  type HeartbeatReport,
  refreshHostCredentials,
  secondsUntilExpiry,
  sendHeartbeat,
} from "./client.ts";
import { type HostCredentials, type HostTlsMaterial, saveCredentials } from "./credentials.ts";

/** Heartbeat interval the control plane expects (it marks a host unreachable after 90 s). */
export const HEARTBEAT_INTERVAL_MS = 30_000;
// Refresh ahead of expiry so a long control plane outage near the end does not strand the host.
const REFRESH_AHEAD_SEC = 24 * 3600;

/** Outcome of one heartbeat round. */
export type BeatResult = "ok" | "refreshed" | "unreachable" | "revoked";

/** Options of a {@link HostSession}. */
export interface HostSessionOptions {
  credentials: HostCredentials;
  /** Where rotated credentials are saved (0600). */
  credentialsPath: string;
  logger: Logger;
  /**
   * Called once when the control plane no longer accepts this host (refresh
   * refused, or the host was deleted): the agent should pause all its sandboxes.
   */
  onRevoked: () => Promise<void>;
  /** Called with the renewed mTLS certificate after each refresh that carried one (hot-swap it). */
  onTlsMaterial?: ((tls: HostTlsMaterial) => void) | undefined;
  /** The sandbox report each beat carries, taken when the beat is sent. */
  report?: (() => HeartbeatReport) | undefined;
  intervalMs?: number;
  fetch?: Fetch;
}

/**
 * Keeps a registered host connected: a heartbeat every 30 s with
 * `X-Host-Token`; on 401/403 it rotates the refresh token (saving the new
 * credentials before using them) and retries; when the refresh is refused it
 * calls `onRevoked` once and stops. A control plane that is merely down is
 * retried on the next tick.
 */
export class HostSession {
  #creds: HostCredentials;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<BeatResult> | undefined;
  #revoked = false;
  #again = false;

  constructor(private readonly options: HostSessionOptions) {
    this.#creds = options.credentials;
  }

  /** The current credentials (they change on refresh). */
  get credentials(): HostCredentials {
    return this.#creds;
  }

  /** True once the control plane refused this host. */
  get revoked(): boolean {
    return this.#revoked;
  }

  /** Starts the heartbeat loop (first beat immediately). */
  start(): void {
    if (this.#timer || this.#revoked) return;
    void this.beat();
    this.#timer = setInterval(() => void this.beat(), this.options.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the loop and waits for an in-flight beat. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One heartbeat round (beats never overlap: a call during a round joins it). */
  beat(): Promise<BeatResult> {
    this.#running ??= this.#beat().finally(() => {
      this.#running = undefined;
      if (this.#again && this.#timer) {
        this.#again = false;
        void this.beat();
      }
    });
    return this.#running;
  }

  /**
   * Sends the sandbox report as soon as possible: a beat now, or right after the one in
   * flight (whose report may predate the change).
   */
  reportNow(): void {
    if (this.#running) this.#again = true;
    else void this.beat();
  }

  async #beat(): Promise<BeatResult> {
    if (this.#revoked) return "revoked";
    const { logger } = this.options;
    const send = () => sendHeartbeat(this.#creds, this.options.fetch, this.options.report?.());
    try {
      if (secondsUntilExpiry(this.#creds.token) < REFRESH_AHEAD_SEC) {
        await this.#refresh();
        await send();
        return "refreshed";
      }
      try {
        const { renewCertificate } = await send();
        if (!renewCertificate) return "ok";
        logger.info("the control plane asked for a certificate renewal; refreshing");
        await this.#refresh();
        return "refreshed";
      } catch (err) {
        if (!isWrennError(err) || err.code !== "unauthenticated") throw err;
        logger.info("host token refused; refreshing");
        await this.#refresh();
        await send();
        return "refreshed";
      }
    } catch (err) {
      if (isWrennError(err) && (err.code === "unauthenticated" || err.code === "not_found")) {
        return this.#revoke(err);
      }
      logger.warn({ err: isWrennError(err) ? err.message : err }, "heartbeat failed; will retry");
      return "unreachable";
    }
  }

  async #refresh(): Promise<void> {
    const next = await refreshHostCredentials(this.#creds, this.options.fetch);
    // Saved before use: if we crash now, the next start has the only valid refresh token.
    await saveCredentials(this.options.credentialsPath, next);
    this.#creds = next;
    if (next.tls) {
      try {
        this.options.onTlsMaterial?.(next.tls);
      } catch (err) {
        // The old certificate keeps serving until it expires; the next refresh tries again.
        this.options.logger.error({ err }, "installing the renewed TLS certificate failed");
      }
    }
  }

  async #revoke(err: Error): Promise<BeatResult> {
    this.#revoked = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.options.logger.error(
      { reason: err.message },
      "control plane refused this host; pausing all sandboxes",
    );
    try {
      await this.options.onRevoked();
    } catch (e) {
      this.options.logger.error({ err: e }, "pausing sandboxes after revocation failed");
    }
    return "revoked";
  }
}
