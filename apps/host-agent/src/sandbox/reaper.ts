import type { Logger } from "@wrenn/common";
import type { SandboxManager } from "./manager.ts";

/**
 * The TTL reaper: every `intervalMs` it auto-pauses running sandboxes idle
 * longer than their `timeout_sec`, and destroys one whose pause fails (its VM is
 * broken, and a sandbox nobody can pause must not hold the host's memory forever).
 */
export class TtlReaper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly manager: SandboxManager,
    private readonly logger: Logger,
    private readonly intervalMs = 2_000,
  ) {}

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
    for (const id of this.manager.idleSandboxIds()) {
      try {
        await this.manager.pause(id, true);
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
    return { paused, destroyed };
  }
}
