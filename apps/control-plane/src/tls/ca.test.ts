import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AgentTls, CLIENT_CERT_TTL_MS, HOST_CERT_TTL_MS } from "./agent-tls.ts";
import {
  CertificateAuthority,
  CertificateAuthorityError,
  certificateFingerprint,
  subjectAltNameOf,
} from "./ca.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

describe("CertificateAuthority", () => {
  it("generates a P-256 CA that loads back and issues host certificates with an IP or DNS SAN", async () => {
    const pem = await CertificateAuthority.generate({ commonName: "test CA" });
    const ca = await CertificateAuthority.load(pem.certPem, pem.keyPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe("CN=test CA");
    expect(createPrivateKey(pem.keyPem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");

    const now = new Date();
    const ip = await ca.issue({
      use: "server",
      commonName: "host-1",
      address: "10.0.0.5:5007",
      ttlMs: HOST_CERT_TTL_MS,
      now,
    });
    const leaf = new X509Certificate(ip.certPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe("IP Address:10.0.0.5");
    expect(leaf.checkIP("10.0.0.5")).toBe("10.0.0.5");
    expect(leaf.keyUsage).toEqual([SERVER_AUTH]);
    expect(new Date(leaf.validTo).getTime()).toBeCloseTo(now.getTime() + HOST_CERT_TTL_MS, -4);
    expect(ip.notAfter.getTime()).toBe(now.getTime() + HOST_CERT_TTL_MS);
    // The key handed out belongs to the certificate.
    expect(leaf.checkPrivateKey(createPrivateKey(ip.keyPem))).toBe(true);
    expect(ip.fingerprint).toBe(leaf.fingerprint256.replaceAll(":", "").toLowerCase());
    expect(ip.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    const dns = await ca.issue({
      use: "server",
      commonName: "host-2",
      address: "Agent-7.example.com:5007",
      ttlMs: 60_000,
    });
    expect(new X509Certificate(dns.certPem).subjectAltName).toBe("DNS:agent-7.example.com");
    const v6 = await ca.issue({ use: "server", commonName: "host-3", address: "[::1]:5007", ttlMs: 60_000 });
    expect(new X509Certificate(v6.certPem).checkIP("::1")).toBe("::1");

    const client = await ca.issue({
      use: "client",
      commonName: "wrenn-control-plane",
      ttlMs: CLIENT_CERT_TTL_MS,
    });
    const clientCert = new X509Certificate(client.certPem);
    expect(clientCert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(clientCert.subjectAltName).toBeUndefined();
    expect(client.fingerprint).not.toBe(ip.fingerprint);
  });

  it("accepts an OpenSSL-style SEC1 key and refuses unusable CAs with a reason", async () => {
    const pem = await CertificateAuthority.generate();
    const sec1 = createPrivateKey(pem.keyPem).export({ type: "sec1", format: "pem" }).toString();
    await expect(CertificateAuthority.load(pem.certPem, sec1)).resolves.toBeInstanceOf(CertificateAuthority);

    const other = await CertificateAuthority.generate();
    await expect(CertificateAuthority.load(pem.certPem, other.keyPem)).rejects.toThrow(/does not match/);
    await expect(CertificateAuthority.load("not a certificate", pem.keyPem)).rejects.toThrow(
      CertificateAuthorityError,
    );
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    await expect(CertificateAuthority.load(pem.certPem, rsa.toString())).rejects.toThrow(/P-256/);

    const ca = await CertificateAuthority.load(pem.certPem, pem.keyPem);
    const leaf = await ca.issue({ use: "server", commonName: "h", address: "127.0.0.1:1", ttlMs: 60_000 });
    await expect(CertificateAuthority.load(leaf.certPem, leaf.keyPem)).rejects.toThrow(/CA:TRUE/);

    const old = await CertificateAuthority.generate({
      validDays: 1,
      now: new Date(Date.now() - 3 * 86_400_000),
    });
    await expect(CertificateAuthority.load(old.certPem, old.keyPem)).rejects.toThrow(/expired/);
    // Nor does a CA issue certificates that outlive it.
    const short = await CertificateAuthority.load(
      ...(Object.values(await CertificateAuthority.generate({ validDays: 1 })) as [string, string]),
    );
    await expect(
      short.issue({ use: "server", commonName: "h", address: "127.0.0.1:1", ttlMs: HOST_CERT_TTL_MS }),
    ).rejects.toThrow(/expires before/);
  });

  it("derives SANs and fingerprints", () => {
    expect(subjectAltNameOf("127.0.0.1:5007")).toEqual({ type: "ip", value: "127.0.0.1" });
    expect(subjectAltNameOf("[fd00::2]:5007")).toEqual({ type: "ip", value: "fd00::2" });
    expect(subjectAltNameOf("HOST.internal:1")).toEqual({ type: "dns", value: "host.internal" });
    expect(() => certificateFingerprint("garbage")).toThrow();
  });
});

describe("AgentTls", () => {
  it("issues a 24 h client certificate and replaces it on renewal", async () => {
    const tls = await AgentTls.create(await CertificateAuthority.generate());
    const first = tls.clientCertificate;
    const cert = new X509Certificate(first.certPem);
    expect(cert.subject).toBe("CN=wrenn-control-plane");
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeGreaterThan(CLIENT_CERT_TTL_MS - 120_000);
    expect(tls.connectOptions()).toMatchObject({
      ca: tls.ca.certPem,
      cert: first.certPem,
      key: first.keyPem,
    });
    expect(tls.generation).toBe(0);
    await Promise.all([tls.renew(), tls.renew()]); // concurrent renewals share one
    expect(tls.generation).toBe(1);
    expect(tls.clientCertificate.fingerprint).not.toBe(first.fingerprint);
    expect(tls.http2Options()).toMatchObject({ cert: tls.clientCertificate.certPem, ALPNProtocols: ["h2"] });
  });

  it("renews in the background on its interval", async () => {
    const tls = await AgentTls.create(await CertificateAuthority.generate(), { renewMs: 50 });
    tls.start();
    try {
      await expect.poll(() => tls.generation, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    } finally {
      tls.stop();
    }
  });
});
