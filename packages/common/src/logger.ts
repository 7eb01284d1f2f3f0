import { type Logger, pino } from "pino";

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
];

/** Creates the process logger for one component (`control-plane`, `host-agent`, `envd`, …). */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ name: component, level, redact: { paths: redactedPaths, censor: "[redacted]" } });
}

export type { Logger };
