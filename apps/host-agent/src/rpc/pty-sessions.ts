import type { Logger } from "@wrenn/common";

/** Default inactivity limit of a terminal nobody is attached to. */
export const DEFAULT_PTY_IDLE_TIMEOUT_MS = 120_000;

/** What {@link PtySessions} needs from the rest of the agent. */
export interface PtySessionsDeps {
  /** A detached session is killed after this long without input or output. */
  idleTimeoutMs: number;
  /**
   * Follows a session's output while nobody is attached, so output counts as activity.
   * Yields `"output"` per chunk and `"end"` when the session's process ended; aborting
   * `signal` stops following (never the process).
   */
  follow(sandboxId: string, tag: string, signal: AbortSignal): AsyncIterable<"output" | "end">;
  /** Ends a session's process. */
  kill(sandboxId: string, tag: string): Promise<void>;
  /** `running`, `paused` (idle time does not count while paused) or `gone` (forget the session). */
  sandboxState(sandboxId: string): "running" | "paused" | "gone";
  logger: Logger;
  /** How often detached sessions are checked; default a tenth of the timeout (1-5 s). */
  checkIntervalMs?: number;
  now?: () => number;
}

interface Session {
  sandboxId: string;
  tag: string;
  attached: number;
  lastActivity: number;
  follower: AbortController | undefined;
}

/**
 * The terminals (PTY sessions by tag) this agent has seen, and the rule that a session
 * with no attached client and no input or output for the idle timeout is killed. A
 * client disconnect leaves a session running so it can reconnect by tag; this keeps
 * forgotten shells from running forever. Lives in the agent (not the control plane)
 * because the agent owns the sandbox and sees every attach, whichever control plane
 * instance the client came through. Time while the sandbox is paused does not count.
 */
export class PtySessions {
  private readonly sessions = new Map<string, Session>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: PtySessionsDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private session(sandboxId: string, tag: string): Session {
    const key = `${sandboxId}\u0000${tag}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = { sandboxId, tag, attached: 0, lastActivity: this.now(), follower: undefined };
      this.sessions.set(key, session);
    }
    return session;
  }

  /** A client attached to the session; call the returned function when it detaches. */
  attach(sandboxId: string, tag: string): () => void {
    const session = this.session(sandboxId, tag);
    session.attached++;
    session.follower?.abort();
    session.follower = undefined;
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      this.detach(session);
    };
  }

  private detach(session: Session): void {
    session.attached = Math.max(0, session.attached - 1);
    session.lastActivity = this.now();
    if (session.attached > 0 || this.closed || !this.sessions.has(this.keyOf(session))) return;
    this.startFollowing(session);
    this.ensureTimer();
  }

  private keyOf(session: Session): string {
    return `${session.sandboxId}\u0000${session.tag}`;
  }

  private startFollowing(session: Session): void {
    const controller = new AbortController();
    session.follower = controller;
    void (async () => {
      try {
        for await (const event of this.deps.follow(session.sandboxId, session.tag, controller.signal)) {
          if (event === "end") {
            this.ended(session.sandboxId, session.tag);
            return;
          }
          session.lastActivity = this.now();
        }
      } catch {
        // The stream broke (sandbox paused, envd restarted): the timer alone decides now.
      } finally {
        if (session.follower === controller) session.follower = undefined;
      }
    })();
  }

  /** Input was written to the session (or other activity worth postponing the kill). */
  activity(sandboxId: string, tag: string): void {
    const session = this.sessions.get(`${sandboxId}\u0000${tag}`);
    if (session) session.lastActivity = this.now();
  }

  /** The session's process ended: forget it. */
  ended(sandboxId: string, tag: string): void {
    const key = `${sandboxId}\u0000${tag}`;
    const session = this.sessions.get(key);
    if (!session) return;
    session.follower?.abort();
    this.sessions.delete(key);
  }

  /** Whether `tag` in the sandbox is a terminal this agent opened (envd's process list cannot tell). */
  has(sandboxId: string, tag: string): boolean {
    return this.sessions.has(`${sandboxId}\u0000${tag}`);
  }

  /** Number of tracked sessions (attached or not). */
  get size(): number {
    return this.sessions.size;
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    const interval =
      this.deps.checkIntervalMs ?? Math.min(5_000, Math.max(1_000, Math.floor(this.deps.idleTimeoutMs / 10)));
    this.timer = setInterval(() => void this.check(), interval);
    this.timer.unref();
  }

  /** Kills detached sessions idle for longer than the timeout (exposed for tests). */
  async check(): Promise<void> {
    const now = this.now();
    let detached = 0;
    for (const [key, session] of this.sessions) {
      if (session.attached > 0) continue;
      const state = this.deps.sandboxState(session.sandboxId);
      if (state === "gone") {
        session.follower?.abort();
        this.sessions.delete(key);
        continue;
      }
      if (state === "paused") {
        session.lastActivity = now;
        detached++;
        continue;
      }
      if (now - session.lastActivity < this.deps.idleTimeoutMs) {
        detached++;
        continue;
      }
      session.follower?.abort();
      this.sessions.delete(key);
      try {
        await this.deps.kill(session.sandboxId, session.tag);
        this.deps.logger.info({ sandboxId: session.sandboxId, tag: session.tag }, "idle terminal killed");
      } catch (err) {
        // Already gone is the expected race with the process ending on its own.
        this.deps.logger.debug(
          { err, sandboxId: session.sandboxId, tag: session.tag },
          "idle terminal kill failed",
        );
      }
    }
    if (detached === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Stops the timer and every follower; sessions keep running in their sandboxes. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const session of this.sessions.values()) session.follower?.abort();
    this.sessions.clear();
  }
}
