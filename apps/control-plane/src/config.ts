import { readFileSync } from "node:fs";
import { z } from "zod";

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
  MAX_BODY_BYTES: positiveInt.default(1024 * 1024),
  HOST_MONITOR_INTERVAL_SEC: positiveInt.default(30),
  HOST_STALE_AFTER_SEC: positiveInt.default(90),
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
  maxBodyBytes: number;
  /**
   * Host monitor timings: a pass every `intervalSec`; a host silent for `staleAfterSec` becomes
   * `unreachable` (detected at most `staleAfterSec + intervalSec` after its last heartbeat).
   */
  hostMonitor: { intervalSec: number; staleAfterSec: number };
  /** Base domain of port-proxy host names (`{port}-{sandboxId}.{domain}`); unset = header form only. */
  proxyDomain: string | undefined;
  /**
   * The internal CA (PEM) for mTLS towards host agents (`WRENN_CA_CERT` / `WRENN_CA_KEY`);
   * undefined = plain HTTP to agents (dev mode).
   */
  ca: { certPem: string; keyPem: string } | undefined;
  logLevel: string;
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
    maxBodyBytes: e.MAX_BODY_BYTES,
    hostMonitor: { intervalSec: e.HOST_MONITOR_INTERVAL_SEC, staleAfterSec: e.HOST_STALE_AFTER_SEC },
    proxyDomain: e.WRENN_PROXY_DOMAIN,
    ca,
    logLevel: e.LOG_LEVEL,
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
