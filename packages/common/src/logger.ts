import { type Logger, type LoggerOptions, pino } from "pino";

/** Keys whose values never reach a log line. */
export const redactedPaths = [
  "password",
  "*.password",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "req.headers.authorization",
  "req.headers['x-api-key']",
  "req.headers['x-access-token']",
  "req.headers['x-host-token']",
  "req.headers.cookie",
  "refreshToken",
  "*.refreshToken",
  "secret",
  "*.secret",
  // Stored secrets as rows and query results name them (both spellings: Drizzle and SQL columns).
  ...["passwordHash", "password_hash", "keyHash", "key_hash", "envdAccessToken", "envd_access_token"].flatMap(
    (k) => [k, `*.${k}`],
  ),
];

// Fields of PostgreSQL errors that echo row values (`Key (key_hash)=(…) already exists`,
// `unnamed portal parameter $1 = '…'`): logged as redacted, the code and constraint say enough.
const VALUE_ECHOING_FIELDS = new Set(["detail", "where", "params", "parameters"]);
const MAX_CAUSE_DEPTH = 8;

function isErrorLike(value: unknown): value is Error & Record<string, unknown> {
  return typeof value === "object" && value !== null && typeof (value as Error).message === "string";
}

/**
 * The one error serializer of every Wrenn logger: like pino's, but a failed query's bound parameters
 * (Drizzle puts them in `params` and in the message and stack, `params: <hash>,<token>`) and
 * PostgreSQL's value-echoing fields never reach a log line. Causes are serialized the same way.
 */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!isErrorLike(err)) return err;
  const type = err.constructor?.name || err.name;
  const failedQuery = typeof err.query === "string" && "params" in err;
  const message = failedQuery ? `Failed query: ${err.query}` : err.message;
  const out: Record<string, unknown> = { type, message };
  if (typeof err.stack === "string") {
    // The stack's head repeats the message (parameters included): keep only the frames.
    const frames = err.stack.split("\n").filter((line) => /^\s+at /.test(line));
    out.stack = [`${type}: ${message}`, ...frames].join("\n");
  }
  for (const [key, value] of Object.entries(err)) {
    if (key === "cause" || key in out) continue;
    out[key] = VALUE_ECHOING_FIELDS.has(key)
      ? "[redacted]"
      : isErrorLike(value) && depth < MAX_CAUSE_DEPTH
        ? serializeError(value, depth + 1)
        : value;
  }
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/** The options of every Wrenn logger (also for tests that log into a buffer with the real configuration). */
export function loggerOptions(
  component: string | undefined,
  level = process.env.LOG_LEVEL ?? "info",
): LoggerOptions {
  return {
    ...(component ? { name: component } : {}),
    level,
    redact: { paths: redactedPaths, censor: "[redacted]" },
    serializers: { err: serializeError, error: serializeError, cause: serializeError },
  };
}

/** Creates the process logger for one component (`control-plane`, `host-agent`, `envd`, …). */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino(loggerOptions(component, level));
}

export type { Logger };
