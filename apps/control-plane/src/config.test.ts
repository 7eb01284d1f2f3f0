import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const base = { JWT_SECRET: "s".repeat(32) };

describe("loadConfig", () => {
  it("applies defaults", () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      redisUrl: "redis://127.0.0.1:6379",
      github: undefined,
    });
    expect(c.databaseUrl).toBeUndefined();
  });

  it("host monitor timings: defaults detect a silent host within 2 minutes, env overrides them", () => {
    const { hostMonitor } = loadConfig(base);
    expect(hostMonitor).toEqual({ intervalSec: 30, staleAfterSec: 90 });
    // Worst case: the last heartbeat just before the host died, the pass just before it went stale.
    expect(hostMonitor.staleAfterSec + hostMonitor.intervalSec).toBeLessThanOrEqual(120);
    expect(
      loadConfig({ ...base, HOST_MONITOR_INTERVAL_SEC: "2", HOST_STALE_AFTER_SEC: "5" }).hostMonitor,
    ).toEqual({ intervalSec: 2, staleAfterSec: 5 });
    expect(() => loadConfig({ ...base, HOST_STALE_AFTER_SEC: "0" })).toThrow(
      /^HOST_STALE_AFTER_SEC is invalid/,
    );
  });

  it("names a missing variable in one line", () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(/^JWT_SECRET is required/);
  });

  it("names a malformed variable and shows its value (secrets redacted)", () => {
    expect(() => loadConfig({ ...base, CP_PORT: "eighty" })).toThrow(/^CP_PORT is invalid \(got "eighty"\)/);
    expect(() => loadConfig({ ...base, DATABASE_URL: "mysql://x" })).toThrow(/^DATABASE_URL is invalid/);
    expect(() => loadConfig({ JWT_SECRET: "short" })).toThrow(/JWT_SECRET is invalid \(got "\[redacted\]"\)/);
  });

  it("requires CP_PUBLIC_URL when OAuth is configured", () => {
    const gh = { ...base, GITHUB_CLIENT_ID: "id", GITHUB_CLIENT_SECRET: "secret" };
    expect(() => loadConfig(gh)).toThrow(/CP_PUBLIC_URL is required when OAuth/);
    expect(() => loadConfig({ ...base, GITHUB_CLIENT_ID: "id" })).toThrow(/must be set together/);
    const c = loadConfig({ ...gh, CP_PUBLIC_URL: "https://wrenn.example.com/" });
    expect(c.publicUrl).toBe("https://wrenn.example.com");
    expect(c.github?.apiUrl).toBe("https://api.github.com");
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig({ ...base, DATABASE_URL: "" }).databaseUrl).toBeUndefined();
  });

  it("reads the mTLS CA from files or inline PEM, both or neither", async () => {
    expect(loadConfig(base).ca).toBeUndefined();
    const dir = await mkdtemp(join(tmpdir(), "wrenn-config-ca-"));
    try {
      const cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
      const key = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";
      await writeFile(join(dir, "ca.pem"), cert);
      await writeFile(join(dir, "ca.key"), key);
      await writeFile(join(dir, "junk"), "hello");
      expect(
        loadConfig({ ...base, WRENN_CA_CERT: join(dir, "ca.pem"), WRENN_CA_KEY: join(dir, "ca.key") }).ca,
      ).toEqual({ certPem: cert, keyPem: key });
      // One-line .env values carry their newlines as \n.
      const inline = loadConfig({ ...base, WRENN_CA_CERT: cert.replaceAll("\n", "\\n"), WRENN_CA_KEY: key });
      expect(inline.ca).toEqual({ certPem: cert, keyPem: key });
      expect(() => loadConfig({ ...base, WRENN_CA_CERT: join(dir, "ca.pem") })).toThrow(
        /must be set together/,
      );
      expect(() => loadConfig({ ...base, WRENN_CA_CERT: join(dir, "nope"), WRENN_CA_KEY: key })).toThrow(
        /^WRENN_CA_CERT: cannot read .*nope \(ENOENT\)$/,
      );
      expect(() => loadConfig({ ...base, WRENN_CA_CERT: join(dir, "junk"), WRENN_CA_KEY: key })).toThrow(
        /not a PEM file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("channels: encryption keys are checked at start-up without echoing them; delivery settings parse", () => {
    const key = "ab".repeat(32);
    expect(loadConfig(base).encryption).toBeUndefined();
    expect(loadConfig({ ...base, WRENN_ENCRYPTION_KEY: key }).encryption).toEqual({ key, previous: "" });
    const bad = () => loadConfig({ ...base, WRENN_ENCRYPTION_KEY: "tooshort-secret" });
    expect(bad).toThrow(/^WRENN_ENCRYPTION_KEY: must be 32 bytes/);
    expect(bad).not.toThrow(/tooshort-secret/);
    expect(() =>
      loadConfig({ ...base, WRENN_ENCRYPTION_KEY: key, WRENN_ENCRYPTION_KEY_PREVIOUS: `${key},nope` }),
    ).toThrow(/^WRENN_ENCRYPTION_KEY_PREVIOUS: must be 32 bytes/);
    expect(() => loadConfig({ ...base, WRENN_ENCRYPTION_KEY_PREVIOUS: key })).toThrow(
      /needs WRENN_ENCRYPTION_KEY/,
    );
    expect(loadConfig(base).channels).toEqual({
      allowPrivate: [],
      retryDelaysMs: [10_000, 30_000],
      disableAfter: 5,
      timeoutMs: 10_000,
    });
    expect(
      loadConfig({
        ...base,
        WRENN_CHANNELS_ALLOW_PRIVATE: " 127.0.0.1/32, ::1 ",
        WRENN_CHANNELS_RETRY_DELAYS_MS: "50",
      }).channels,
    ).toMatchObject({ allowPrivate: ["127.0.0.1/32", "::1"], retryDelaysMs: [50] });
    expect(() => loadConfig({ ...base, WRENN_CHANNELS_RETRY_DELAYS_MS: "10s" })).toThrow(
      /^WRENN_CHANNELS_RETRY_DELAYS_MS is invalid/,
    );
  });
});

describe("loadConfig: the HTTPS listener (WRENN_TLS_*)", () => {
  const pem = "-----BEGIN CERTIFICATE-----\\nAA==\\n-----END CERTIFICATE-----\\n";
  const keyPem = "-----BEGIN PRIVATE KEY-----\\nAA==\\n-----END PRIVATE KEY-----\\n";
  const ca = { WRENN_CA_CERT: pem, WRENN_CA_KEY: keyPem };

  it("is off by default; operator PEM inline or as files (re-read later), or the internal CA", async () => {
    expect(loadConfig(base).tls).toBeUndefined();
    expect(
      loadConfig({ ...base, WRENN_TLS_PORT: "8443", WRENN_TLS_CERT: pem, WRENN_TLS_KEY: keyPem }).tls,
    ).toEqual({
      host: "0.0.0.0",
      port: 8443,
      source: { kind: "provided", certPem: pem.replace(/\\n/g, "\n"), keyPem: keyPem.replace(/\\n/g, "\n") },
    });
    const dir = await mkdtemp(join(tmpdir(), "wrenn-tls-config-"));
    try {
      await writeFile(join(dir, "cert.pem"), pem.replace(/\\n/g, "\n"));
      await writeFile(join(dir, "key.pem"), keyPem.replace(/\\n/g, "\n"));
      const tls = loadConfig({
        ...base,
        WRENN_TLS_PORT: "443",
        WRENN_TLS_HOST: "10.0.0.1",
        WRENN_TLS_CERT: join(dir, "cert.pem"),
        WRENN_TLS_KEY: join(dir, "key.pem"),
      }).tls;
      expect(tls).toMatchObject({
        host: "10.0.0.1",
        port: 443,
        source: { kind: "provided", certPath: join(dir, "cert.pem"), keyPath: join(dir, "key.pem") },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(
      loadConfig({
        ...base,
        ...ca,
        WRENN_PROXY_DOMAIN: "sbx.example.internal",
        WRENN_TLS_PORT: "443",
        WRENN_TLS_INTERNAL_CA: "true",
      }).tls,
    ).toEqual({ host: "0.0.0.0", port: 443, source: { kind: "internal-ca" } });
  });

  it("names what is missing or conflicting", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ WRENN_TLS_CERT: pem, WRENN_TLS_KEY: keyPem }, /WRENN_TLS_PORT is required/],
      [{ WRENN_TLS_PORT: "443" }, /needs WRENN_TLS_CERT and WRENN_TLS_KEY, or WRENN_TLS_INTERNAL_CA/],
      [{ WRENN_TLS_PORT: "443", WRENN_TLS_CERT: pem }, /must be set together/],
      [{ WRENN_TLS_PORT: "443", WRENN_TLS_INTERNAL_CA: "true", WRENN_PROXY_DOMAIN: "a.b" }, /WRENN_CA_CERT/],
      [{ ...ca, WRENN_TLS_PORT: "443", WRENN_TLS_INTERNAL_CA: "true" }, /needs WRENN_PROXY_DOMAIN/],
      [
        {
          ...ca,
          WRENN_TLS_PORT: "443",
          WRENN_TLS_INTERNAL_CA: "1",
          WRENN_TLS_CERT: pem,
          WRENN_TLS_KEY: keyPem,
        },
        /exclude each other/,
      ],
      [
        { WRENN_TLS_PORT: "443", WRENN_TLS_CERT: "/nonexistent/cert.pem", WRENN_TLS_KEY: keyPem },
        /cannot read/,
      ],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
      expect(() => loadConfig({ ...base, ...env })).toThrow(message);
    }
  });
});
