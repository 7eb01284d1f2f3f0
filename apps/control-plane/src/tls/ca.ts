// @peculiar/x509 resolves its ASN.1 serializers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import { createHash, createPrivateKey, X509Certificate as NodeX509Certificate, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

/** Raised for a CA certificate or key that cannot be used; the message says what is wrong. */
export class CertificateAuthorityError extends Error {
  override readonly name = "CertificateAuthorityError";
}

/** A certificate and its private key, PEM, as handed to a host or used by the control plane. */
export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM of the certificate's fresh P-256 key. */
  keyPem: string;
  /** SHA-256 of the DER certificate, lowercase hex (64 characters). */
  fingerprint: string;
  notAfter: Date;
}

/** What a leaf certificate is for: a host agent's listener or the control plane as a client. */
export type CertificateUse = "server" | "client";

function pem(tag: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${tag}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${tag}-----\n`;
}

/** SHA-256 fingerprint (lowercase hex) of a PEM or DER certificate. */
export function certificateFingerprint(cert: string | ArrayBuffer): string {
  const der = typeof cert === "string" ? new NodeX509Certificate(cert).raw : Buffer.from(cert);
  return createHash("sha256").update(der).digest("hex");
}

/**
 * The host part of a `host:port` address as a subject alternative name: an IP SAN for
 * IPv4 / `[IPv6]`, a DNS SAN for a name.
 */
export function subjectAltNameOf(address: string): { type: "ip" | "dns"; value: string } {
  const colon = address.lastIndexOf(":");
  const host = (colon > 0 ? address.slice(0, colon) : address).replace(/^\[|\]$/g, "");
  return isIP(host) ? { type: "ip", value: host } : { type: "dns", value: host.toLowerCase() };
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", key));
}

/**
 * Wrenn's internal certificate authority (ECDSA P-256): it issues the host agents'
 * server certificates and the control plane's own client certificates for mTLS on the
 * control plane → host agent channel. Each leaf gets a fresh key pair.
 */
export class CertificateAuthority {
  private constructor(
    private readonly cert: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    /** The CA certificate, PEM (what both sides verify the other against). */
    readonly certPem: string,
  ) {}

  /**
   * Loads a CA from its PEM certificate and private key (PKCS#8 or SEC1 "EC PRIVATE KEY").
   * Throws {@link CertificateAuthorityError} when the certificate is not a CA, is not
   * P-256, has expired, or the key does not belong to it.
   */
  static async load(certPem: string, keyPem: string, now = new Date()): Promise<CertificateAuthority> {
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(certPem);
    } catch (err) {
      throw new CertificateAuthorityError(
        `CA certificate is not a PEM certificate: ${(err as Error).message}`,
      );
    }
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    if (!basic?.ca) throw new CertificateAuthorityError("CA certificate lacks basicConstraints CA:TRUE");
    if (cert.notAfter.getTime() <= now.getTime()) {
      throw new CertificateAuthorityError(`CA certificate expired on ${cert.notAfter.toISOString()}`);
    }
    const algorithm = cert.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
    if (algorithm.name !== "ECDSA" || algorithm.namedCurve !== "P-256") {
      throw new CertificateAuthorityError("CA certificate must have an ECDSA P-256 key");
    }
    let signingKey: CryptoKey;
    try {
      const pkcs8 = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
      signingKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, EC_P256, false, ["sign"]);
    } catch (err) {
      throw new CertificateAuthorityError(`CA key is not a P-256 private key: ${(err as Error).message}`);
    }
    // Sign and verify a probe: a key of another CA would produce certificates nobody accepts.
    const probe = new TextEncoder().encode("wrenn-ca-probe");
    const signature = await webcrypto.subtle.sign(SIGNING, signingKey, probe);
    const publicKey = await cert.publicKey.export(EC_P256, ["verify"]);
    if (!(await webcrypto.subtle.verify(SIGNING, publicKey, signature, probe))) {
      throw new CertificateAuthorityError("CA key does not match the CA certificate");
    }
    return new CertificateAuthority(cert, signingKey, cert.toString("pem"));
  }

  /**
   * A new self-signed CA (10 years by default) with its PKCS#8 key, PEM: for tests,
   * `startTestDeployment({ tls: true })` and operators bootstrapping a deployment.
   */
  static async generate(
    options: { commonName?: string; validDays?: number; now?: Date } = {},
  ): Promise<{ certPem: string; keyPem: string }> {
    const now = options.now ?? new Date();
    const keys = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=${options.commonName ?? "Wrenn internal CA"}`,
      keys,
      signingAlgorithm: SIGNING,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + (options.validDays ?? 3650) * 86_400_000),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { certPem: cert.toString("pem"), keyPem: await exportKeyPem(keys.privateKey) };
  }

  /**
   * Issues a leaf certificate. `server` certificates (host agents) carry the SAN of
   * `address` and only the serverAuth usage; `client` certificates (the control plane)
   * only clientAuth, so neither can stand in for the other: a host cannot use its own
   * certificate to call another host's agent.
   */
  async issue(options: {
    use: CertificateUse;
    commonName: string;
    /** `host:port` of a server certificate. */
    address?: string;
    /**
     * Further DNS names of a server certificate, wildcards allowed (`*.sandbox.example.com`):
     * the port proxy's public certificate for a private domain names no single address.
     */
    dnsNames?: string[];
    ttlMs: number;
    now?: Date;
  }): Promise<IssuedCertificate> {
    const now = options.now ?? new Date();
    const keys = await newKeyPair();
    // A little backdating absorbs clock skew between the control plane and hosts.
    const notBefore = new Date(now.getTime() - 5 * 60_000);
    const notAfter = new Date(now.getTime() + options.ttlMs);
    if (notAfter.getTime() > this.cert.notAfter.getTime()) {
      throw new CertificateAuthorityError("CA certificate expires before the certificate it would issue");
    }
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [options.use === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        true,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(this.cert.publicKey),
    ];
    if (options.use === "server") {
      const names = [
        ...(options.address ? [subjectAltNameOf(options.address)] : []),
        ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value: value.toLowerCase() })),
      ];
      if (!names.length)
        throw new CertificateAuthorityError("a server certificate needs the host address or DNS names");
      extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
    }
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${options.commonName.replace(/[,+="<>#;\\]/g, "_")}`,
      issuer: this.cert.subject,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: SIGNING,
      notBefore,
      notAfter,
      extensions,
    });
    return {
      certPem: cert.toString("pem"),
      keyPem: await exportKeyPem(keys.privateKey),
      fingerprint: certificateFingerprint(cert.rawData),
      notAfter,
    };
  }
}
