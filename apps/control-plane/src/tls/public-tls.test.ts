import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { afterEach, describe, expect, it } from "vitest";
import { CertificateAuthority } from "./ca.ts";
import { PUBLIC_CERT_TTL_MS, type PublicTlsListener, startPublicTlsListener } from "./public-tls.ts";

const log = createLogger("public-tls-test", "silent");
let listener: PublicTlsListener | undefined;

afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

/** GET / over TLS to `url`, sent with SNI and Host `name` and trusting only `ca`. */
function get(url: string, name: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/`, { ca, servername: name, headers: { host: name } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const hello = { listener: (_req: unknown, res: import("node:http").ServerResponse) => res.end("hello") };

describe("the HTTPS listener", () => {
  it("serves a wildcard certificate for *.{domain} issued by the internal CA", async () => {
    const caPem = await CertificateAuthority.generate();
    const ca = await CertificateAuthority.load(caPem.certPem, caPem.keyPem);
    listener = await startPublicTlsListener({
      config: { host: "127.0.0.1", port: 0, source: { kind: "internal-ca" } },
      domain: "sbx.example.internal",
      ca,
      ...hello,
      onUpgrade: (_req, socket) => socket.destroy(),
      log,
    });
    expect(listener.url).toBe(`https://127.0.0.1:${listener.port}`);
    const cert = new X509Certificate(listener.certPem());
    expect(cert.subjectAltName).toBe("DNS:sbx.example.internal, DNS:*.sbx.example.internal");
    expect(cert.checkIssued(new X509Certificate(caPem.certPem))).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBeLessThanOrEqual(Date.now() + PUBLIC_CERT_TTL_MS);
    for (const name of ["49983-sb-1.sbx.example.internal", "api.sbx.example.internal"]) {
      expect(await get(listener.url, name, caPem.certPem)).toEqual({ status: 200, body: "hello" });
    }
    // A name the certificate does not cover, and a client that does not trust the CA, are refused.
    await expect(get(listener.url, "a.b.sbx.example.internal", caPem.certPem)).rejects.toThrow(
      /does not match|altnames/i,
    );
    const other = await CertificateAuthority.generate();
    await expect(get(listener.url, "api.sbx.example.internal", other.certPem)).rejects.toThrow(
      /certificate/i,
    );
  });

  it("serves the operator's certificate from PEM files", async () => {
    const caPem = await CertificateAuthority.generate();
    const ca = await CertificateAuthority.load(caPem.certPem, caPem.keyPem);
    const leaf = await ca.issue({
      use: "server",
      commonName: "op",
      dnsNames: ["*.sandboxes.example.com"],
      ttlMs: 3_600_000,
    });
    const dir = await mkdtemp(join(tmpdir(), "wrenn-public-tls-"));
    try {
      await writeFile(join(dir, "cert.pem"), leaf.certPem);
      await writeFile(join(dir, "key.pem"), leaf.keyPem);
      listener = await startPublicTlsListener({
        config: {
          host: "127.0.0.1",
          port: 0,
          source: {
            kind: "provided",
            certPem: leaf.certPem,
            keyPem: leaf.keyPem,
            certPath: join(dir, "cert.pem"),
            keyPath: join(dir, "key.pem"),
          },
        },
        domain: undefined,
        ca: undefined,
        ...hello,
        onUpgrade: (_req, socket) => socket.destroy(),
        log,
      });
      expect(listener.certPem()).toBe(leaf.certPem);
      const res = await get(listener.url, "8000-sb-2.sandboxes.example.com", caPem.certPem);
      expect(res).toEqual({ status: 200, body: "hello" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("an internal-CA certificate without the CA or the domain is refused at start", async () => {
    await expect(
      startPublicTlsListener({
        config: { host: "127.0.0.1", port: 0, source: { kind: "internal-ca" } },
        domain: "d.test",
        ca: undefined,
        ...hello,
        onUpgrade: () => {},
        log,
      }),
    ).rejects.toThrow(/WRENN_CA_/);
  });
});
