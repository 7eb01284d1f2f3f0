import { closeSync, openSync, readSync } from "node:fs";

const INITIAL_BYTES = 16 * 1024;

/**
 * A procfs table (such as /proc/net/tcp) read again and again at low cost: the file stays
 * open and is read synchronously from offset 0 into a reused buffer, and a read that returns
 * the same bytes as the previous one reports "unchanged" without making a string.
 *
 * Why: envd polls these tables every second in every sandbox. Under software emulation an
 * idle guest's cost is what its idle loop does: an async `readFile` goes through libuv's
 * thread pool (open, fstat, read, close, thread wake-ups) and allocates a buffer and a string
 * each time, whose garbage later wakes the collector.
 */
export class ProcTable {
  private fd: number | undefined;
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private previous = Buffer.alloc(0);

  constructor(private readonly path: string) {}

  /**
   * The table's text, `undefined` when its bytes did not change since the last call, or ""
   * when the file cannot be read (e.g. /proc/net/tcp6 without IPv6).
   */
  read(): string | undefined {
    let length: number;
    try {
      length = this.readAll();
    } catch {
      this.close();
      return "";
    }
    // Compared in place: an unchanged table costs no allocation at all.
    const same =
      length === this.previous.length && this.buffer.compare(this.previous, 0, length, 0, length) === 0;
    if (same) return undefined;
    this.previous = Buffer.from(this.buffer.subarray(0, length));
    return this.buffer.toString("latin1", 0, length);
  }

  /** Closes the file; a later {@link read} opens it again and returns its text. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.previous = Buffer.alloc(0);
  }

  private readAll(): number {
    this.fd ??= openSync(this.path, "r");
    let length = 0;
    for (;;) {
      if (length === this.buffer.length) {
        const larger = Buffer.allocUnsafe(this.buffer.length * 2);
        this.buffer.copy(larger, 0, 0, length);
        this.buffer = larger;
      }
      // Positional reads: offset 0 makes procfs generate the table afresh.
      const n = readSync(this.fd, this.buffer, length, this.buffer.length - length, length);
      if (n === 0) return length;
      length += n;
    }
  }
}
