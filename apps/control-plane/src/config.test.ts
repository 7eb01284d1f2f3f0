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
});
