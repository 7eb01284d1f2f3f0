import { readFileSync } from "node:fs";
import { z } from "zod";
import { type CorsPolicy, parseCorsOrigins } from "./cors-origins.ts";
import { parseEncryptionKey } from "./crypto/secret-box.ts";
import type { PublicTlsConfig } from "./tls/public-tls.ts";

/** Raised when the environment is missing or malformed; its message is one line naming the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const bool = z
  .enum(["1", "0", "true", "false", "yes", "no"])
  .transform((v) => v === "1" || v === "true" || v === "yes");
const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));

const EnvSchema = z.object({
  CP_HOST: z.string().min(1).default("0.0.0.0"),
  CP_PORT: port.default(8080),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default("redis://127.0.0.1:6379"),
  WRENN_DATA_DIR: z.string().min(1).default("/var/lib/wrenn"),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters"),
  JWT_TTL_SEC: positiveInt.default(24 * 3600),
  CP_PUBLIC_URL: httpUrl.optional(),
  DASHBOARD_URL: httpUrl.optional(),
  GITHUB_CLIENT_ID: z.string().min(1).optional(),
  GITHUB_CLIENT_SECRET: z.string().min(1).optional(),
  GITHUB_AUTHORIZE_URL: httpUrl.default("https://github.com/login/oauth/authorize"),
  GITHUB_TOKEN_URL: httpUrl.default("https://github.com/login/oauth/access_token"),
  GITHUB_API_URL: httpUrl.default("https://api.github.com"),
  AUTH_RATE_LIMIT_PER_IP: positiveInt.default(30),
  AUTH_RATE_LIMIT_PER_ACCOUNT: positiveInt.default(10),
  AUTH_RATE_LIMIT_WINDOW_SEC: positiveInt.default(60),
  TRUST_PROXY: bool.default(false),
  WRENN_CORS_ORIGINS: z.string().optional(),
  MAX_BODY_BYTES: positiveInt.default(1024 * 1024),
  HOST_MONITOR_INTERVAL_SEC: positiveInt.default(30),
  HOST_STALE_AFTER_SEC: positiveInt.default(90),
  STATS_SAMPLE_INTERVAL_SEC: positiveInt.default(10),
  STATS_RETENTION_DAYS: positiveInt.default(60),
  WRENN_DASHBOARD_DIR: z.string().min(1).optional(),
  WRENN_PROXY_DOMAIN: z
    .string()
    .transform((v) => v.toLowerCase().replace(/^\.+|\.+$/g, ""))
    .pipe(
      z
        .string()
        .regex(
          /^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
          "must be a DNS name such as sandbox.example.com",
        ),
    )
    .optional(),
  WRENN_CA_CERT: z.string().min(1).optional(),
  WRENN_CA_KEY: z.string().min(1).optional(),
  WRENN_TLS_PORT: port.optional(),
  WRENN_TLS_HOST: z.string().min(1).optional(),
  WRENN_TLS_CERT: z.string().min(1).optional(),
  WRENN_TLS_KEY: z.string().min(1).optional(),
  WRENN_TLS_INTERNAL_CA: bool.default(false),
  WRENN_ENCRYPTION_KEY: z.string().min(1).optional(),
  WRENN_ENCRYPTION_KEY_PREVIOUS: z.string().min(1).optional(),
  WRENN_CHANNELS_ALLOW_PRIVATE: z.string().optional(),
  WRENN_CHANNELS_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, "must be comma-separated milliseconds, e.g. 10000,30000")
    .default("10000,30000"),
  WRENN_CHANNELS_DISABLE_AFTER: positiveInt.default(5),
  WRENN_CHANNELS_TIMEOUT_MS: positiveInt.default(10_000),
  BUILD_WORKERS: z.coerce.number().int().min(0).max(64).default(2),
  BUILD_LAYER_MIN_MS: z.coerce.number().int().min(0).default(3000),
  BUILD_CACHE_MAX_LAYERS: z.coerce.number().int().min(0).default(20),
  BUILD_STEP_TIMEOUT_SEC: positiveInt.default(1800),
  BUILD_READY_TIMEOUT_SEC: positiveInt.default(300),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});

/** GitHub OAuth settings (present only when both client id and secret are set). */
export interface GithubOAuthConfig {
  clientId: string;
  clientSecret: string;
  authorizeUrl: string;
  tokenUrl: string;
  apiUrl: string;
}

/** The control plane's validated configuration. */
export interface Config {
  host: string;
  port: number;
  databaseUrl: string | undefined;
  redisUrl: string;
  dataDir: string;
  jwtSecret: string;
  jwtTtlSec: number;
  publicUrl: string | undefined;
  dashboardUrl: string | undefined;
  github: GithubOAuthConfig | undefined;
  rateLimit: { perIp: number; perAccount: number; windowSec: number };
  trustProxy: boolean;
  /** Cross-origin browser access to `/v1` and `/e2b` (`WRENN_CORS_ORIGINS`; off by default). */
  cors: CorsPolicy;
  maxBodyBytes: number;
  /**
   * Host monitor timings: a pass every `intervalSec`; a host silent for `staleAfterSec` becomes
   * `unreachable` (detected at most `staleAfterSec + intervalSec` after its last heartbeat).
   */
  hostMonitor: { intervalSec: number; staleAfterSec: number };
  /** Team stats sampler: a sample of every team's usage every `intervalSec`, kept `retentionDays`. */
  stats: { intervalSec: number; retentionDays: number };
  /**
   * Folder of the dashboard build served at `/` (`WRENN_DASHBOARD_DIR`); undefined = the
   * repository's `apps/dashboard/dist`.
   */
  dashboardDir: string | undefined;
  /** Base domain of port-proxy host names (`{port}-{sandboxId}.{domain}`); unset = header form only. */
  proxyDomain: string | undefined;
  /**
   * The internal CA (PEM) for mTLS towards host agents (`WRENN_CA_CERT` / `WRENN_CA_KEY`);
   * undefined = plain HTTP to agents (dev mode).
   */
  ca: { certPem: string; keyPem: string } | undefined;
  /**
   * The HTTPS listener (`WRENN_TLS_PORT`, `WRENN_TLS_HOST`, and `WRENN_TLS_CERT`/`WRENN_TLS_KEY`
   * or `WRENN_TLS_INTERNAL_CA`): E2B's domain mode with {@link proxyDomain}; undefined = none.
   */
  tls: PublicTlsConfig | undefined;
  /**
   * Secrets at rest (`WRENN_ENCRYPTION_KEY`, 32 bytes hex/base64; `previous`: older keys that
   * still open what they sealed). Undefined: features that store provider secrets are unavailable.
   */
  encryption: { key: string; previous: string } | undefined;
  /** Notification channel delivery (see channels/). */
  channels: {
    /** Private/loopback addresses deliveries may reach (`WRENN_CHANNELS_ALLOW_PRIVATE`, CIDRs or `*`). */
    allowPrivate: string[];
    /** Waits before each retry of a failed delivery. */
    retryDelaysMs: number[];
    /** Failed deliveries in a row that disable a channel. */
    disableAfter: number;
    /** Per-delivery time limit. */
    timeoutMs: number;
  };
  logLevel: string;
  /**
   * Template builds: `workers` builds run at once in this process (0 = this process only queues);
   * a cache layer is captured once uncached steps ran `layerMinMs` (and after the last step);
   * `maxLayersPerTeam` layers are kept per team, least recently used evicted first.
   */
  builds: {
    workers: number;
    layerMinMs: number;
    maxLayersPerTeam: number;
    stepTimeoutSec: number;
    readyTimeoutSec: number;
  };
}

/**
 * Parses and validates the environment. Throws {@link ConfigError} naming the
 * first bad variable, e.g. `JWT_SECRET: must be at least 32 characters`.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" (common in .env files).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const value = cleaned[name];
    const got =
      value === undefined ? "is required" : `is invalid (got ${JSON.stringify(redact(name, value))})`;
    throw new ConfigError(`${name} ${got}: ${issue?.message ?? "invalid"}`);
  }
  const e = parsed.data;
  if (Boolean(e.GITHUB_CLIENT_ID) !== Boolean(e.GITHUB_CLIENT_SECRET)) {
    throw new ConfigError("GITHUB_CLIENT_SECRET and GITHUB_CLIENT_ID must be set together");
  }
  const github = e.GITHUB_CLIENT_ID
    ? {
        clientId: e.GITHUB_CLIENT_ID,
        clientSecret: e.GITHUB_CLIENT_SECRET ?? "",
        authorizeUrl: e.GITHUB_AUTHORIZE_URL,
        tokenUrl: e.GITHUB_TOKEN_URL,
        apiUrl: e.GITHUB_API_URL,
      }
    : undefined;
  if (Boolean(e.WRENN_CA_CERT) !== Boolean(e.WRENN_CA_KEY)) {
    throw new ConfigError("WRENN_CA_CERT and WRENN_CA_KEY must be set together");
  }
  const ca =
    e.WRENN_CA_CERT && e.WRENN_CA_KEY
      ? {
          certPem: pemSetting("WRENN_CA_CERT", e.WRENN_CA_CERT),
          keyPem: pemSetting("WRENN_CA_KEY", e.WRENN_CA_KEY),
        }
      : undefined;
  if (github && !e.CP_PUBLIC_URL) {
    throw new ConfigError("CP_PUBLIC_URL is required when OAuth (GITHUB_CLIENT_ID) is configured");
  }
  return {
    host: e.CP_HOST,
    port: e.CP_PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir: e.WRENN_DATA_DIR,
    jwtSecret: e.JWT_SECRET,
    jwtTtlSec: e.JWT_TTL_SEC,
    publicUrl: e.CP_PUBLIC_URL,
    dashboardUrl: e.DASHBOARD_URL ?? e.CP_PUBLIC_URL,
    github,
    rateLimit: {
      perIp: e.AUTH_RATE_LIMIT_PER_IP,
      perAccount: e.AUTH_RATE_LIMIT_PER_ACCOUNT,
      windowSec: e.AUTH_RATE_LIMIT_WINDOW_SEC,
    },
    trustProxy: e.TRUST_PROXY,
    cors: corsPolicy(e.WRENN_CORS_ORIGINS),
    maxBodyBytes: e.MAX_BODY_BYTES,
    hostMonitor: { intervalSec: e.HOST_MONITOR_INTERVAL_SEC, staleAfterSec: e.HOST_STALE_AFTER_SEC },
    stats: { intervalSec: e.STATS_SAMPLE_INTERVAL_SEC, retentionDays: e.STATS_RETENTION_DAYS },
    dashboardDir: e.WRENN_DASHBOARD_DIR,
    proxyDomain: e.WRENN_PROXY_DOMAIN,
    ca,
    tls: publicTlsSettings(e, ca !== undefined),
    encryption: encryptionSettings(e.WRENN_ENCRYPTION_KEY, e.WRENN_ENCRYPTION_KEY_PREVIOUS),
    channels: {
      allowPrivate: (e.WRENN_CHANNELS_ALLOW_PRIVATE ?? "")
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean),
      retryDelaysMs: e.WRENN_CHANNELS_RETRY_DELAYS_MS.split(",").map(Number),
      disableAfter: e.WRENN_CHANNELS_DISABLE_AFTER,
      timeoutMs: e.WRENN_CHANNELS_TIMEOUT_MS,
    },
    logLevel: e.LOG_LEVEL,
    builds: {
      workers: e.BUILD_WORKERS,
      layerMinMs: e.BUILD_LAYER_MIN_MS,
      maxLayersPerTeam: e.BUILD_CACHE_MAX_LAYERS,
      stepTimeoutSec: e.BUILD_STEP_TIMEOUT_SEC,
      readyTimeoutSec: e.BUILD_READY_TIMEOUT_SEC,
    },
  };
}

/**
 * A PEM setting: the PEM itself when the value starts with `-----BEGIN` (an `.env` file or a
 * secret store), else the path of a file holding it.
 */
function pemSetting(name: string, value: string): string {
  if (value.trimStart().startsWith("-----BEGIN")) return value.replace(/\\n/g, "\n");
  let text: string;
  try {
    text = readFileSync(value, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${name}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  if (!text.includes("-----BEGIN")) throw new ConfigError(`${name}: ${value} is not a PEM file`);
  return text;
}

/** The HTTPS listener's settings, checked together so a half-given set names what is missing. */
function publicTlsSettings(e: z.infer<typeof EnvSchema>, haveCa: boolean): PublicTlsConfig | undefined {
  const given = e.WRENN_TLS_CERT || e.WRENN_TLS_KEY || e.WRENN_TLS_INTERNAL_CA || e.WRENN_TLS_HOST;
  if (e.WRENN_TLS_PORT === undefined) {
    if (given) throw new ConfigError("WRENN_TLS_PORT is required with the other WRENN_TLS_* settings");
    return undefined;
  }
  if (Boolean(e.WRENN_TLS_CERT) !== Boolean(e.WRENN_TLS_KEY)) {
    throw new ConfigError("WRENN_TLS_CERT and WRENN_TLS_KEY must be set together");
  }
  const host = e.WRENN_TLS_HOST ?? e.CP_HOST;
  if (e.WRENN_TLS_CERT && e.WRENN_TLS_KEY) {
    if (e.WRENN_TLS_INTERNAL_CA) {
      throw new ConfigError("WRENN_TLS_INTERNAL_CA and WRENN_TLS_CERT / WRENN_TLS_KEY exclude each other");
    }
    const inline = (v: string) => v.trimStart().startsWith("-----BEGIN");
    return {
      host,
      port: e.WRENN_TLS_PORT,
      source: {
        kind: "provided",
        certPem: pemSetting("WRENN_TLS_CERT", e.WRENN_TLS_CERT),
        keyPem: pemSetting("WRENN_TLS_KEY", e.WRENN_TLS_KEY),
        ...(inline(e.WRENN_TLS_CERT) ? {} : { certPath: e.WRENN_TLS_CERT }),
        ...(inline(e.WRENN_TLS_KEY) ? {} : { keyPath: e.WRENN_TLS_KEY }),
      },
    };
  }
  if (!e.WRENN_TLS_INTERNAL_CA) {
    throw new ConfigError(
      "WRENN_TLS_PORT needs WRENN_TLS_CERT and WRENN_TLS_KEY, or WRENN_TLS_INTERNAL_CA=true",
    );
  }
  if (!haveCa)
    throw new ConfigError("WRENN_TLS_INTERNAL_CA needs the internal CA (WRENN_CA_CERT / WRENN_CA_KEY)");
  if (!e.WRENN_PROXY_DOMAIN) {
    throw new ConfigError(
      "WRENN_TLS_INTERNAL_CA needs WRENN_PROXY_DOMAIN (the certificate is for *.{domain})",
    );
  }
  return { host, port: e.WRENN_TLS_PORT, source: { kind: "internal-ca" } };
}

/** The encryption keys, each checked now so a malformed one stops start-up with its variable's name. */
function encryptionSettings(key: string | undefined, previous: string | undefined) {
  if (!key) {
    if (previous) throw new ConfigError("WRENN_ENCRYPTION_KEY_PREVIOUS needs WRENN_ENCRYPTION_KEY");
    return undefined;
  }
  for (const [name, value] of [
    ["WRENN_ENCRYPTION_KEY", key],
    ...(previous ?? "")
      .split(",")
      .filter((v) => v.trim())
      .map((v) => ["WRENN_ENCRYPTION_KEY_PREVIOUS", v] as const),
  ] as const) {
    try {
      parseEncryptionKey(value);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`);
    }
  }
  return { key, previous: previous ?? "" };
}

function redact(name: string, value: string): string {
  return /SECRET|PASSWORD|TOKEN|_KEY$/.test(name) ? "[redacted]" : value;
}

/** Loads `.env` from the working directory into `process.env` when the file exists (existing vars win). */
export function loadDotEnv(path = ".env"): boolean {
  try {
    process.loadEnvFile(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
}

function corsPolicy(value: string | undefined): CorsPolicy {
  try {
    return parseCorsOrigins(value);
  } catch (err) {
    throw new ConfigError(`WRENN_CORS_ORIGINS: ${(err as Error).message}`);
  }
}
