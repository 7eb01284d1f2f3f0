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
});
