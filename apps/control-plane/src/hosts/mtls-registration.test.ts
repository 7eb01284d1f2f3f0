/**
 * Host certificates through the real registration flow: a control plane with a CA served on
 * loopback (real PostgreSQL and Redis) and the agent's real registration client and session.
 */
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createLogger } from "@wrenn/common";
import {
  connectToControlPlane,
  type HostTlsMaterial,
  loadCredentials,
  saveCredentials,
} from "@wrenn/host-agent";
import { call, createTestApp, signupUser, type TestApp } from "@wrenn/testing/app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentTls, HOST_CERT_TTL_MS } from "../tls/agent-tls.ts";
import { CertificateAuthority, certificateFingerprint } from "../tls/ca.ts";
import { HostClientPool } from "./pool.ts";

const logger = createLogger("mtls-registration-test", "silent");
let t: TestApp;
let plain: TestApp;
let server: ReturnType<typeof serve>;
let url: string;
let dir: string;
let adminToken: string;
let caCertPem: string;

beforeAll(async () => {
  const caPem = await CertificateAuthority.generate();
  caCertPem = caPem.certPem;
  const tls = await AgentTls.create(caPem);
  t = await createTestApp({ deps: { hostPool: new HostClientPool({ tls }) } });
  plain = await createTestApp();
  server = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), "wrenn-mtls-registration-"));
  const admin = await signupUser(t.app, "Admin");
  await t.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [admin.user.id.slice(4)]);
  adminToken = admin.token;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.cleanup();
  await plain?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function newToken(app: TestApp, token: string): Promise<string> {
  const res = await call(app.app, "POST", "/v1/hosts", { token, body: { type: "regular" } });
  expect(res.status).toBe(201);
  return res.body.registration_token as string;
}

async function certRow(
  wireId: string,
): Promise<{ cert_fingerprint: string | null; cert_expires_at: Date | null }> {
  const r = await t.db.pool.query("SELECT cert_fingerprint, cert_expires_at FROM hosts WHERE id = $1", [
    wireId.slice(5),
  ]);
  return r.rows[0];
}

describe("host certificates at registration and refresh", () => {
  it("issues a 7-day certificate for the registered IP, records it, keeps it 0600, renews it on refresh", async () => {
    const path = join(dir, "a.json");
    const installed: HostTlsMaterial[] = [];
    const before = Date.now();
    const session = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(t, adminToken),
      address: "127.0.0.1:5999",
      logger,
      onRevoked: async () => {},
      onTlsMaterial: (m) => void installed.push(m),
    });
    try {
      const creds = await loadCredentials(path);
      if (!creds?.tls) throw new Error("no certificate saved");
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const raw = JSON.parse(await readFile(path, "utf8"));
      expect(Object.keys(raw)).toEqual(expect.arrayContaining(["cert_pem", "key_pem", "ca_cert_pem"]));
      expect(creds.tls.caCertPem).toBe(caCertPem);
      expect(installed).toEqual([creds.tls]);
      const cert = new X509Certificate(creds.tls.certPem);
      expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
      expect(cert.checkIssued(new X509Certificate(caCertPem))).toBe(true);
      const row = await certRow(creds.hostId);
      expect(row.cert_fingerprint).toBe(certificateFingerprint(creds.tls.certPem));
      const expires = row.cert_expires_at?.getTime() ?? 0;
      expect(expires).toBeGreaterThanOrEqual(before + HOST_CERT_TTL_MS - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + HOST_CERT_TTL_MS);
      expect(await session.beat()).toBe("ok");
      const view = await call(t.app, "GET", `/v1/hosts/${creds.hostId}`, { token: adminToken });
      expect(view.body.cert_expires_at).toBe(row.cert_expires_at?.toISOString());

      // A refused host token makes the session refresh: a new certificate comes with it.
      await session.stop();
      await saveCredentials(path, { ...creds, token: `${creds.token}x` });
      const again = await connectToControlPlane({
        credentialsPath: path,
        dataDir: dir,
        logger,
        onRevoked: async () => {},
        onTlsMaterial: (m) => void installed.push(m),
      });
      expect(await again.beat()).toBe("refreshed");
      await again.stop();
      const rotated = await loadCredentials(path);
      expect(rotated?.tls?.certPem).not.toBe(creds.tls.certPem);
      expect(installed.at(-1)).toEqual(rotated?.tls);
      expect((await certRow(creds.hostId)).cert_fingerprint).toBe(
        certificateFingerprint(rotated?.tls?.certPem ?? ""),
      );
    } finally {
      await session.stop();
    }
  });

  it("asks a host without a certificate (registered before the CA) to refresh at its next heartbeat", async () => {
    const path = join(dir, "b.json");
    const session = await connectToControlPlane({
      credentialsPath: path,
      dataDir: dir,
      controlPlaneUrl: url,
      registrationToken: await newToken(t, adminToken),
      address: "agent-b.internal:5007",
      logger,
      onRevoked: async () => {},
    });
    try {
      const hostId = session.credentials.hostId;
      expect(new X509Certificate(session.credentials.tls?.certPem ?? "").subjectAltName).toBe(
        "DNS:agent-b.internal",
      );
      await t.db.pool.query(
        "UPDATE hosts SET cert_fingerprint = NULL, cert_expires_at = NULL WHERE id = $1",
        [hostId.slice(5)],
      );
      expect(await session.beat()).toBe("refreshed");
      expect((await certRow(hostId)).cert_fingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(await session.beat()).toBe("ok");
    } finally {
      await session.stop();
    }
  });

  it("issues nothing without a CA (plain HTTP, dev mode)", async () => {
    const admin = await signupUser(plain.app, "Admin");
    await plain.db.pool.query("UPDATE users SET is_admin = true WHERE id = $1", [admin.user.id.slice(4)]);
    const res = await call(plain.app, "POST", "/v1/hosts/register", {
      body: {
        token: await newToken(plain, admin.token),
        address: "127.0.0.1:5007",
        arch: "x86_64",
        cpu_count: 1,
        memory_mb: 1024,
        disk_gb: 1,
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.token).toBeTypeOf("string");
    expect(res.body).not.toHaveProperty("cert_pem");
    expect(res.body.host.cert_expires_at).toBeNull();
    const beat = await plain.app.request(`/v1/hosts/${res.body.host.id}/heartbeat`, {
      method: "POST",
      headers: { "x-host-token": res.body.token },
    });
    expect(beat.status).toBe(204);
    expect(beat.headers.get("x-wrenn-renew-certificate")).toBeNull();
  });
});
