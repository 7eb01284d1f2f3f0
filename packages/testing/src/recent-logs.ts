import { Writable } from "node:stream";
import { type Logger, loggerOptions } from "@wrenn/common";
import pino from "pino";

/** Lines kept for a failing test's report: enough for one deployment's errors, bounded. */
const KEEP_LINES = 300;
const recent: string[] = [];

/** Keeps the newest lines in `recent`, dropping the oldest beyond `KEEP_LINES`. */
const ring = new Writable({
  write(chunk: Buffer, _encoding, done) {
    recent.push(chunk.toString("utf8").trimEnd());
    if (recent.length > KEEP_LINES) recent.splice(0, recent.length - KEEP_LINES);
    done();
  },
});

/**
 * The logger of a test deployment (control plane and host agent). Warnings and errors are
 * always kept in memory, so a failing VM test can show why the platform failed (an internal
 * error's cause is only ever logged, never sent to a client); `TEST_LOG_LEVEL` also writes
 * that level and above to stderr, as before.
 */
export function createTestLogger(component: string): Logger {
  const verbose = process.env.TEST_LOG_LEVEL;
  const streams: pino.StreamEntry[] = [{ level: "warn", stream: ring }];
  if (verbose && verbose !== "silent") streams.push({ level: verbose as pino.Level, stream: process.stderr });
  const level =
    verbose && verbose !== "silent" && (pino.levels.values[verbose] ?? 40) < 40 ? verbose : "warn";
  return pino(loggerOptions(component, level), pino.multistream(streams));
}

/** The warnings and errors logged since the last call (and forgets them). */
export function takeRecentLogs(): string[] {
  return recent.splice(0, recent.length);
}
