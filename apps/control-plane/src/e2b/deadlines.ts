import type { Logger } from "@wrenn/common";
import {
  clearSandboxEndAt,
  type Database,
  listExpiredSandboxes,
  type Sandbox,
  type SandboxTimeoutAction,
  setSandboxDeadline,
} from "@wrenn/db";
import type { JobLeases } from "../infra/job-lease.ts";
import { PeriodicPass } from "../infra/periodic-pass.ts";
import type { SandboxesService } from "../services/sandboxes.ts";

/** How often the expiry pass runs: E2B ends a sandbox within about a second of its end time. */
export const DEADLINE_INTERVAL_MS = 1000;
// Sandboxes ended per pass at most; the rest wait for the next pass.
const BATCH = 50;
// A sandbox that could not be ended (its host down) is retried after this, not every pass.
const RETRY_AFTER_MS = 30_000;

/** The shortest timeout an auto-resumed sandbox runs (E2B: five minutes, or its creation timeout if longer). */
export const AUTO_RESUME_MIN_TIMEOUT_SEC = 300;

/** E2B's lifecycle of a sandbox: what its timeout does, and whether traffic resumes it. */
export interface E2bLifecycle {
  onTimeout: SandboxTimeoutAction;
  autoResume: boolean;
}

/**
 * E2B's timeout for sandboxes created through `/e2b`: an absolute end time (`sandboxes.end_at`)
 * that `setTimeout` replaces and `connect`/`refreshes` only ever push later; at the end the
 * sandbox is killed, or paused when created with auto-pause. Sandboxes without a lifecycle
 * (`on_timeout` null, e.g. created through `/v1`) keep Wrenn's inactivity timer instead.
 * A sandbox that stops running loses its end time: a paused one has none until it is resumed.
 */
export class SandboxDeadlines {
  readonly #passes: PeriodicPass<string[]>;
  readonly #failedAt = new Map<string, number>();

  constructor(
    private readonly deps: {
      db: Database;
      sandboxes: SandboxesService;
      log: Logger;
      /** Default {@link DEADLINE_INTERVAL_MS}. */
      intervalMs?: number;
      /** Injected for tests. */
      now?: () => Date;
    },
  ) {
    deps.sandboxes.onStoppedRunning((id) => clearSandboxEndAt(deps.db, id));
    this.#passes = new PeriodicPass({
      job: "e2b-deadlines",
      run: () => this.#tick(),
      log: deps.log,
      failure: "sandbox expiry pass failed",
    });
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** True when `row` follows E2B's lifecycle rather than Wrenn's inactivity timer. */
  static governs(row: Sandbox): boolean {
    return row.onTimeout !== null;
  }

  /** Gives a new sandbox its lifecycle and an end `timeoutSec` from now (0 = no end). */
  begin(row: Sandbox, timeoutSec: number, lifecycle: E2bLifecycle): Promise<Sandbox> {
    return this.set(row, { endAt: this.endIn(timeoutSec), ...lifecycle, e2bTimeoutSec: timeoutSec });
  }

  /**
   * After an auto-resume: E2B runs the timeout given at creation again from the resume, at
   * least {@link AUTO_RESUME_MIN_TIMEOUT_SEC} (a sandbox created with no end keeps none).
   */
  afterAutoResume(row: Sandbox): Promise<Sandbox> {
    const created = row.e2bTimeoutSec ?? 0;
    const seconds = row.e2bTimeoutSec === 0 ? 0 : Math.max(AUTO_RESUME_MIN_TIMEOUT_SEC, created);
    return this.set(row, { endAt: this.endIn(seconds) });
  }

  /** `setTimeout`: the sandbox ends `timeoutSec` from now, earlier or later than before (0 = no end). */
  reset(row: Sandbox, timeoutSec: number): Promise<Sandbox> {
    return this.set(row, { endAt: this.endIn(timeoutSec) });
  }

  /**
   * `connect`/`refreshes`: the sandbox runs at least `seconds` more; an end time already
   * later (or none) stays. A sandbox just resumed had none, so it gets exactly this one.
   */
  extend(row: Sandbox, seconds: number, justResumed: boolean): Promise<Sandbox> {
    const wanted = this.endIn(seconds);
    if (!justResumed && (row.endAt === null || (wanted !== null && row.endAt >= wanted))) {
      return Promise.resolve(row);
    }
    return this.set(row, { endAt: wanted });
  }

  private endIn(seconds: number): Date | null {
    return seconds === 0 ? null : new Date(this.now().getTime() + seconds * 1000);
  }

  private async set(row: Sandbox, deadline: Parameters<typeof setSandboxDeadline>[3]): Promise<Sandbox> {
    return (await setSandboxDeadline(this.deps.db, row.teamId, row.id, deadline, this.now())) ?? row;
  }

  /**
   * Runs a pass every `intervalMs` until {@link stop}; with `leases` (several control planes), only
   * the process holding the job's lease runs them.
   */
  start(leases?: JobLeases): void {
    this.#passes.start(this.deps.intervalMs ?? DEADLINE_INTERVAL_MS, { leases, tick: () => this.tick() });
  }

  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void> {
    return this.#passes.stop();
  }

  /** One pass (passes never overlap): ends every running sandbox past its end time; answers their ids. */
  tick(): Promise<string[]> {
    return this.#passes.tick();
  }

  async #tick(): Promise<string[]> {
    const ended: string[] = [];
    const now = this.now().getTime();
    for (const row of await listExpiredSandboxes(this.deps.db, this.now(), BATCH)) {
      if (now - (this.#failedAt.get(row.id) ?? 0) < RETRY_AFTER_MS) continue;
      try {
        await this.deps.sandboxes.expire(row);
        this.#failedAt.delete(row.id);
        ended.push(row.id);
      } catch (err) {
        // The host may be down: a later pass tries again.
        this.#failedAt.set(row.id, now);
        if (this.#failedAt.size > 10_000) this.#failedAt.clear();
        this.deps.log.warn(
          { err, sandboxId: row.id, action: row.onTimeout },
          "ending an expired sandbox failed",
        );
      }
    }
    return ended;
  }
}
