import type { Logger } from "@wrenn/common";
import type { SandboxManager } from "./manager.ts";

/** What the reaper needs of the manager. */
export type ReapableSandboxes = Pick<SandboxManager, "idleSandboxIds" | "pauseIfIdle" | "destroy">;

/** Options of a {@link TtlReaper}. */
export interface TtlReaperOptions {
  /** Time between sweeps (default 2 s): an auto-pause happens at most this late. */
  intervalMs?: number;
  /** The clock timeouts are measured against (injected by tests). */
  now?: () => number;
  /** Called after a sweep that paused or destroyed a sandbox (the agent reports it at once). */
  onChange?: (() => void) | undefined;
}

/**
 * The TTL reaper: every `intervalMs` it auto-pauses running sandboxes idle
 * longer than their `timeout_sec`, and destroys one whose pause fails (its VM is
 * broken, and a sandbox nobody can pause must not hold the host's memory forever).
 * It reads the timeout and last activity afresh on every sweep, so a ping or a
 * timeout changed through PingSandbox takes effect at the next one.
 */
export class TtlReaper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly onChange: (() => void) | undefined;

  constructor(
    private readonly manager: ReapableSandboxes,
    private readonly logger: Logger,
    options: TtlReaperOptions | number = {},
  ) {
    const settings = typeof options === "number" ? { intervalMs: options } : options;
    this.intervalMs = settings.intervalMs ?? 2_000;
    this.now = settings.now ?? Date.now;
    this.onChange = settings.onChange;
  }

  /** Starts periodic sweeps. */
  start(): void {
    this.timer ??= setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(() => {})
        .finally(() => {
          this.sweeping = undefined;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops sweeping and waits for a sweep in progress (so no pause is cut short). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** One pass over the idle sandboxes; returns what it did. */
  async sweep(): Promise<{ paused: string[]; destroyed: string[] }> {
    const paused: string[] = [];
    const destroyed: string[] = [];
    for (const id of this.manager.idleSandboxIds(this.now())) {
      try {
        // Re-checked under the sandbox's lock: pausing others first may have taken a while.
        if (!(await this.manager.pauseIfIdle(id, this.now))) continue;
        paused.push(id);
        this.logger.info({ sandboxId: id }, "auto-paused idle sandbox");
      } catch (err) {
        this.logger.warn({ err, sandboxId: id }, "auto-pause failed; destroying the sandbox");
        try {
          await this.manager.destroy(id);
          destroyed.push(id);
        } catch (destroyErr) {
          this.logger.error({ err: destroyErr, sandboxId: id }, "destroy after failed auto-pause failed");
        }
      }
    }
    if (paused.length || destroyed.length) this.onChange?.();
    return { paused, destroyed };
  }
}
