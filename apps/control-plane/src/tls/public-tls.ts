import { readFile } from "node:fs/promises";
import type { IncomingMessage, RequestListener } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "@wrenn/common";
import type { CertificateAuthority } from "./ca.ts";

/** Lifetime of a public certificate issued by the internal CA. */
export const PUBLIC_CERT_TTL_MS = 7 * 24 * 3600_000;
/** How often it is re-issued (and how often operator files are re-read). */
export const PUBLIC_CERT_RENEW_MS = 24 * 3600_000;
/** How often operator-provided certificate files are checked for a renewal. */
export const PUBLIC_CERT_RELOAD_MS = 3600_000;

/**
 * Where the HTTPS listener's certificate comes from: the operator's PEM (inline, or files that
 * are re-read every hour so a renewal by certbot/acme.sh needs no restart), or a wildcard
 * certificate for `*.{WRENN_PROXY_DOMAIN}` issued by Wrenn's internal CA (a private domain).
 */
export type PublicTlsSource =
  | { kind: "provided"; certPem: string; keyPem: string; certPath?: string; keyPath?: string }
  | { kind: "internal-ca" };

/** The HTTPS listener's settings (`WRENN_TLS_*`). */
export interface PublicTlsConfig {
  host: string;
  port: number;
  source: PublicTlsSource;
}

/** A running HTTPS listener of the control plane. */
export interface PublicTlsListener {
  /** `https://host:port` (a wildcard listener address shown as 127.0.0.1). */
  url: string;
  port: number;
  /** The certificate served now (PEM). */
  certPem(): string;
  close(): Promise<void>;
}

/** The names an internal-CA certificate covers: the domain itself and every name one label below it. */
export function publicCertificateNames(domain: string): string[] {
  return [domain, `*.${domain}`];
}

/**
 * Serves the control plane (API, port proxy, WebSocket upgrades) over TLS 1.2+ on a listener of
 * its own, beside the plain HTTP one. With a proxy domain this is E2B's domain mode: the `e2b`
 * SDK given only `E2B_DOMAIN` reaches envd, signed file URLs and `getHost()` ports at
 * `https://{port}-{sandboxId}.{domain}` and the API at `https://api.{domain}`.
 * The certificate is swapped in place (`setSecureContext`) when renewed; open connections keep theirs.
 */
export async function startPublicTlsListener(options: {
  config: PublicTlsConfig;
  /** The port proxy's domain (required for an internal-CA certificate). */
  domain: string | undefined;
  /** Wrenn's internal CA (required for an internal-CA certificate). */
  ca: CertificateAuthority | undefined;
  listener: RequestListener;
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  log: Logger;
}): Promise<PublicTlsListener> {
  const { config, log } = options;
  const material = await certificateSource(config.source, options.domain, options.ca);
  let current = await material.load();
  const server: Server = createServer(
    { cert: current.certPem, key: current.keyPem, minVersion: "TLSv1.2" },
    options.listener,
  );
  server.on("upgrade", options.onUpgrade);
  // A failed handshake (a client that does not trust the CA) is the client's business, not an error here.
  server.on("tlsClientError", (err) => log.debug({ error: err.message }, "TLS handshake failed"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EADDRINUSE" || err.code === "EACCES") {
      throw new Error(
        `cannot listen on ${config.host}:${config.port} for HTTPS (${err.code}; WRENN_TLS_PORT)`,
      );
    }
    throw err;
  });
  const timer = setInterval(() => {
    material
      .load()
      .then((next) => {
        if (next.certPem === current.certPem && next.keyPem === current.keyPem) return;
        server.setSecureContext({ cert: next.certPem, key: next.keyPem, minVersion: "TLSv1.2" });
        current = next;
        log.info({ source: config.source.kind }, "HTTPS certificate replaced");
      })
      .catch((err: unknown) =>
        log.error({ err }, "renewing the HTTPS certificate failed; serving the old one"),
      );
  }, material.everyMs);
  timer.unref();
  const port = (server.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return {
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    certPem: () => current.certPem,
    async close() {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

interface CertificateMaterial {
  load(): Promise<{ certPem: string; keyPem: string }>;
  everyMs: number;
}

async function certificateSource(
  source: PublicTlsSource,
  domain: string | undefined,
  ca: CertificateAuthority | undefined,
): Promise<CertificateMaterial> {
  if (source.kind === "provided") {
    const { certPath, keyPath } = source;
    return {
      everyMs: PUBLIC_CERT_RELOAD_MS,
      load: async () => ({
        certPem: certPath ? await readFile(certPath, "utf8") : source.certPem,
        keyPem: keyPath ? await readFile(keyPath, "utf8") : source.keyPem,
      }),
    };
  }
  if (!ca || !domain)
    throw new Error("an internal-CA HTTPS certificate needs WRENN_CA_* and WRENN_PROXY_DOMAIN");
  return {
    everyMs: PUBLIC_CERT_RENEW_MS,
    load: async () => {
      const issued = await ca.issue({
        use: "server",
        commonName: `*.${domain}`,
        dnsNames: publicCertificateNames(domain),
        ttlMs: PUBLIC_CERT_TTL_MS,
      });
      return { certPem: issued.certPem, keyPem: issued.keyPem };
    },
  };
}
