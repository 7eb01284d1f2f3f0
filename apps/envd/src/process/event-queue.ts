/** What a process emits to its readers. */
export type OutputEvent =
  | { kind: "data"; stream: "stdout" | "stderr" | "pty"; data: Buffer }
  | { kind: "end"; exitCode: number; exited: boolean; status: string; error?: string };

const COALESCE_BYTES = 64 * 1024;

/**
 * A bounded, single-reader queue of process events. Output nobody reads (a
 * detached client, a slow reader) must not grow envd's memory without bound,
 * so once more than `capacityBytes` of data is queued the oldest data events
 * are dropped; the end event is never dropped.
 */
export class EventQueue {
  private readonly events: OutputEvent[] = [];
  private queuedBytes = 0;
  private waiter: (() => void) | undefined;
  private closed = false;
  /** Bytes discarded because the reader fell behind. */
  droppedBytes = 0;

  constructor(private readonly capacityBytes: number) {}

  /** Appends an event, dropping the oldest data beyond the capacity. */
  push(event: OutputEvent): void {
    if (this.closed) return;
    if (event.kind === "data") {
      this.queuedBytes += event.data.length;
      const last = this.events.at(-1);
      // Coalesce small chunks so a chatty process does not queue millions of tiny events.
      if (
        last?.kind === "data" &&
        last.stream === event.stream &&
        last.data.length + event.data.length <= COALESCE_BYTES
      ) {
        last.data = Buffer.concat([last.data, event.data]);
      } else {
        this.events.push({ ...event });
      }
      // The end event is always last, so the oldest data is at the head.
      while (this.queuedBytes > this.capacityBytes && this.events[0]?.kind === "data") {
        const dropped = this.events.shift() as Extract<OutputEvent, { kind: "data" }>;
        this.queuedBytes -= dropped.data.length;
        this.droppedBytes += dropped.data.length;
      }
    } else {
      this.events.push(event);
    }
    this.wake();
  }

  /** Moves everything queued here into `other` (hands a detached process's backlog to a new reader). */
  drainInto(other: EventQueue): void {
    for (const event of this.events.splice(0)) other.push(event);
    this.queuedBytes = 0;
  }

  /** Number of queued events. */
  get length(): number {
    return this.events.length;
  }

  /** Stops the queue: pending and future `next` calls return undefined once it is empty. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /**
   * The next event; `"timeout"` when none arrived within `timeoutMs`, or
   * undefined when the queue is closed and empty or `signal` aborted.
   */
  async next(timeoutMs: number, signal?: AbortSignal): Promise<OutputEvent | "timeout" | undefined> {
    for (;;) {
      const event = this.events.shift();
      if (event) {
        if (event.kind === "data") this.queuedBytes -= event.data.length;
        return event;
      }
      if (this.closed || signal?.aborted) return undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(true), timeoutMs);
        const onAbort = () => finish(false);
        const finish = (byTimer: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          this.waiter = undefined;
          resolve(byTimer);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiter = () => finish(false);
      });
      if (timedOut) return "timeout";
    }
  }

  private wake(): void {
    this.waiter?.();
  }
}
