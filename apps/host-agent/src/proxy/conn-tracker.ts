/** One tracked proxy connection; release it exactly when the exchange ends (extra calls are ignored). */
export interface ConnLease {
  release(): void;
}

/**
 * Counts one sandbox's in-flight proxy connections so a pause can wait for them. A snapshot
 * taken while a TCP exchange is in flight would freeze half-open connections inside the guest,
 * so before pausing the manager calls {@link ConnTracker.drain}: new connections are refused,
 * in-flight ones get a grace period, and whatever is still open afterwards is aborted.
 */
export class ConnTracker {
  private readonly open = new Map<symbol, (() => void) | undefined>();
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  /** Number of connections currently open. */
  get active(): number {
    return this.open.size;
  }

  /** True between {@link drain} and {@link reset}: new connections are refused. */
  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Registers a new connection, or returns null when draining (the caller must refuse it).
   * `abort` is called if the connection is still open when a drain's grace period ends.
   */
  acquire(abort?: () => void): ConnLease | null {
    if (this.draining) return null;
    const key = Symbol("conn");
    this.open.set(key, abort);
    return {
      release: () => {
        if (!this.open.delete(key)) return;
        if (this.open.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      },
    };
  }

  /**
   * Refuses new connections from now on and waits up to `graceMs` for open ones to finish.
   * Resolves true when every connection ended within the grace period; otherwise aborts the
   * remaining ones and resolves false. Stays draining until {@link reset}.
   */
  async drain(graceMs: number): Promise<boolean> {
    this.draining = true;
    if (this.open.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
    });
    const drained = await Promise.race([idle, expired]);
    clearTimeout(timer);
    if (!drained) {
      for (const abort of [...this.open.values()]) abort?.();
    }
    return drained;
  }

  /** Accepts connections again (after a pause failed, or after resume). */
  reset(): void {
    this.draining = false;
  }
}
