import type { SecureClientSessionOptions } from "node:http2";
import type { Logger } from "@wrenn/common";
import { CertificateAuthority, type IssuedCertificate } from "./ca.ts";

/** Lifetime of the control plane's client certificate. */
export const CLIENT_CERT_TTL_MS = 24 * 3600_000;
/** How often it is replaced: half its lifetime, so a failed renewal has 12 h to succeed. */
export const CLIENT_CERT_RENEW_MS = 12 * 3600_000;
/** Lifetime of a host agent's server certificate (renewed on every host token refresh). */
export const HOST_CERT_TTL_MS = 7 * 24 * 3600_000;

/** TLS options of one connection to a host agent (PEM strings). */
export interface AgentConnectOptions {
  ca: string;
  cert: string;
  key: string;
  /** Only TLS 1.3: both ends are ours. */
  minVersion: "TLSv1.3";
}

/**
 * The control plane's side of mTLS towards host agents: the CA (it also issues the
 * hosts' certificates) and an ephemeral client certificate (24 h) that a background
 * timer replaces every 12 h. Connections opened after a renewal present the new
 * certificate; open ones keep theirs until they close. The host client pool (Connect
 * over HTTP/2) and the port-proxy forwarder (HTTP/1.1) both take their options here, so
 * both verify agents against the one CA and present the one client certificate.
 */
export class AgentTls {
  #current: IssuedCertificate;
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  private constructor(
    /** The CA that signs host and client certificates. */
    readonly ca: CertificateAuthority,
    first: IssuedCertificate,
    private readonly options: { log?: Logger | undefined; ttlMs: number; renewMs: number },
  ) {
    this.#current = first;
  }

  /** Loads the CA from PEM and issues the first client certificate (the timer starts with {@link start}). */
  static async create(
    caPem: { certPem: string; keyPem: string },
    options: { log?: Logger; ttlMs?: number; renewMs?: number } = {},
  ): Promise<AgentTls> {
    const ca = await CertificateAuthority.load(caPem.certPem, caPem.keyPem);
    const ttlMs = options.ttlMs ?? CLIENT_CERT_TTL_MS;
    const first = await issueClient(ca, ttlMs);
    return new AgentTls(ca, first, {
      log: options.log,
      ttlMs,
      renewMs: options.renewMs ?? CLIENT_CERT_RENEW_MS,
    });
  }

  /** The client certificate in use now. */
  get clientCertificate(): IssuedCertificate {
    return this.#current;
  }

  /** Bumped on every renewal: a cached transport of an older generation is replaced. */
  get generation(): number {
    return this.#generation;
  }

  /** Options for `tls.connect` / `https.request` to an agent, with the current client certificate. */
  connectOptions(): AgentConnectOptions {
    return {
      ca: this.ca.certPem,
      cert: this.#current.certPem,
      key: this.#current.keyPem,
      minVersion: "TLSv1.3",
    };
  }

  /** Options for `http2.connect` (the Connect transport), with the current client certificate. */
  http2Options(): SecureClientSessionOptions {
    return { ...this.connectOptions(), ALPNProtocols: ["h2"] };
  }

  /** Replaces the client certificate now (the timer does this every 12 h). */
  renew(): Promise<void> {
    this.#renewing ??= issueClient(this.ca, this.options.ttlMs)
      .then((next) => {
        this.#current = next;
        this.#generation++;
        this.options.log?.info(
          { notAfter: next.notAfter.toISOString() },
          "renewed the host-agent client certificate",
        );
      })
      .finally(() => {
        this.#renewing = undefined;
      });
    return this.#renewing;
  }

  /** Starts the background renewal. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.renew().catch((err) => this.options.log?.error({ err }, "client certificate renewal failed"));
    }, this.options.renewMs);
    this.#timer.unref();
  }

  /** Stops the background renewal. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function issueClient(ca: CertificateAuthority, ttlMs: number): Promise<IssuedCertificate> {
  return ca.issue({ use: "client", commonName: "wrenn-control-plane", ttlMs });
}
