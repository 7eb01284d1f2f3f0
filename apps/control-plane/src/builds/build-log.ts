import type { Logger } from "@wrenn/common";
import { appendBuildLogs, type BuildLog, type Database } from "@wrenn/db";

const FLUSH_MS = 250;
const MAX_ENTRY_CHARS = 8_192;

/**
 * A build's log as the builder writes it: entries are buffered briefly and
 * written in batches (a chatty step is one insert per quarter second, not one
 * per chunk); `flush()` writes what is pending. Write failures are logged and
 * never fail the build.
 */
export class BuildLogWriter {
  private pending: { buildId: string; step: number; stream: BuildLog["stream"]; message: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly buildId: string,
  ) {}

  /** A message of the builder itself (`step` 0 = about the whole build). */
  system(message: string, step = 0): void {
    this.add(step, "system", message);
  }

  /** Output of step `step`. */
  output(step: number, stream: "stdout" | "stderr", text: string): void {
    for (let i = 0; i < text.length; i += MAX_ENTRY_CHARS) {
      this.add(step, stream, text.slice(i, i + MAX_ENTRY_CHARS));
    }
  }

  private add(step: number, stream: BuildLog["stream"], message: string): void {
    if (message === "") return;
    this.pending.push({ buildId: this.buildId, step, stream, message });
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes everything pending (in order, after earlier writes). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.writing.then(async () => {
      try {
        await appendBuildLogs(this.db, batch);
      } catch (err) {
        this.log.warn({ err, buildId: this.buildId, entries: batch.length }, "build log write failed");
      }
    });
    return this.writing;
  }
}
