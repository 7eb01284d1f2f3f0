import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorCode, errors, isWrennError, type Logger } from "@wrenn/common";
import type { Sandbox } from "@wrenn/db";
import { hostagent } from "@wrenn/proto";
import type { ZodType } from "zod";
import { type AgentClient, agentError } from "../hosts/pool.ts";
import type { AuthContext } from "./auth-context.ts";
import type { SandboxesService } from "./sandboxes.ts";
import {
  decodeData,
  ExecClientMessage,
  encodeData,
  type Parsed,
  ProcessClientMessage,
  PtyClientMessage,
  parseClientMessage,
  type ServerMessage,
} from "./stream-messages.ts";

/** The client end of one stream, as the transport (a WebSocket) offers it. */
export interface StreamPeer {
  /** Sends one message; resolves once the transport can take more (backpressure). */
  send(message: ServerMessage): Promise<void>;
  /** Ends the stream; `failure` is set when it ends because of an error. */
  close(failure?: ErrorCode): void;
}

/** What the transport reports to a stream. */
export interface StreamHandlers {
  /** One client message (validated here, so any frame is welcome). */
  message(raw: string | Buffer, isBinary: boolean): void;
  /** The client went away, or the server is shutting down. */
  closed(): void;
}

/** A running sandbox of the caller's team, checked before the WebSocket upgrade. */
export interface StreamTarget {
  auth: AuthContext;
  sandbox: Sandbox;
  agent: AgentClient;
  agentId: string;
}

/** A process of a sandbox as the agent addresses it. */
export type ProcessSelector = hostagent.ProcessSelector["selector"];

/** Time a client has to send its `start` message after the upgrade. */
export const START_TIMEOUT_MS = 30_000;

/**
 * The sandbox WebSocket streams' rules: a streamed command (`exec/stream`), the output of
 * a running process, and terminals. Each stream talks to the sandbox's host agent and
 * marks the sandbox active as traffic flows, like REST exec does.
 */
export class SandboxStreamsService {
  constructor(
    private readonly deps: {
      sandboxes: SandboxesService;
      log: Logger;
      startTimeoutMs?: number;
      now?: () => number;
    },
  ) {}

  /**
   * The sandbox a stream is about to open on: the caller's team's, running, on an online
   * host (`not_found` / `failed_precondition` / `unavailable`, before any upgrade).
   */
  async open(auth: AuthContext, id: string, action: string): Promise<StreamTarget> {
    return { auth, ...(await this.deps.sandboxes.running(auth, id, action)) };
  }

  /** `exec/stream`: a `start` message runs the command; stdin, close_stdin and signal follow. */
  exec(target: StreamTarget, peer: StreamPeer): StreamHandlers {
    const s = new Session(target, peer, this.deps);
    let started = false;
    let pid: number | undefined;
    const beforeStart: (() => void)[] = [];
    const startTimer = s.startTimer(this.deps.startTimeoutMs ?? START_TIMEOUT_MS);
    const input = (what: string, op: (selector: ProcessSelector) => Promise<unknown>) => {
      const run = () => s.enqueue(what, () => op({ case: "pid", value: pid ?? 0 }));
      if (pid === undefined) beforeStart.push(run);
      else run();
    };

    const run = async (m: Extract<ExecClientMessage, { type: "start" }>) => {
      const command =
        m.args === undefined ? { cmd: "/bin/bash", args: ["-l", "-c", m.cmd] } : { cmd: m.cmd, args: m.args };
      try {
        const events = target.agent.execStream(
          {
            sandboxId: target.agentId,
            command: { ...command, envs: m.envs ?? {}, cwd: m.cwd ?? "", user: m.user ?? "" },
            timeoutSec: m.timeout_sec ?? 0,
            stdin: true,
          },
          { signal: s.signal },
        );
        for await (const res of events) {
          const e = res.event?.event;
          if (e?.case === "started") {
            pid = e.value.pid;
            for (const op of beforeStart.splice(0)) op();
          }
          if (e && (await s.forward(e))) return;
        }
        s.fail(errors.unavailable("the command's stream ended before it exited"));
      } catch (err) {
        if (s.done) return;
        if (m.timeout_sec && ConnectError.from(err).code === Code.DeadlineExceeded) {
          await s.finish({ type: "exit", exit_code: null, status: "timed out" });
          return;
        }
        s.fail(err, "run the command");
      }
    };

    return {
      message: (raw, isBinary) => {
        const m = s.parse(ExecClientMessage, raw, isBinary);
        if (!m) return;
        if (m.type === "start") {
          if (started) return s.reject("the command was already started");
          started = true;
          clearTimeout(startTimer);
          void run(m);
          return;
        }
        if (!started) return s.reject("send a start message first");
        s.activity();
        processInput(target, m, input);
      },
      closed: () => {
        clearTimeout(startTimer);
        s.end(); // aborting ExecStream makes the agent kill the command
      },
    };
  }

  /**
   * `processes/{pid|tag}/stream`: a running process's output from now on, then its exit.
   * stdin, close_stdin and signal messages go to it; a disconnect leaves it running.
   */
  process(target: StreamTarget, selector: ProcessSelector, peer: StreamPeer): StreamHandlers {
    const s = new Session(target, peer, this.deps);
    const input = (what: string, op: (selector: ProcessSelector) => Promise<unknown>) =>
      s.enqueue(what, () => op(selector));
    void (async () => {
      try {
        const events = target.agent.connectProcess(
          { sandboxId: target.agentId, process: { selector } },
          { signal: s.signal },
        );
        for await (const res of events) {
          const e = res.event?.event;
          if (e && (await s.forward(e))) return;
        }
        s.fail(errors.unavailable("the process stream ended before the process exited"));
      } catch (err) {
        s.fail(err, "connect to the process");
      }
    })();
    return {
      message: (raw, isBinary) => {
        const m = s.parse(ProcessClientMessage, raw, isBinary);
        if (!m) return;
        s.activity();
        processInput(target, m, input);
      },
      closed: () => s.end(),
    };
  }

  /**
   * `pty`: a `start` message attaches to the terminal `tag` (a new one when absent or
   * unknown); input, resize and kill follow. A disconnect leaves the terminal running
   * for a reconnect with the same tag (the agent kills it after 120 s idle and detached).
   */
  pty(target: StreamTarget, peer: StreamPeer): StreamHandlers {
    const s = new Session(target, peer, this.deps);
    let tag: string | undefined;
    let attached = false;
    const beforeAttach: (() => void)[] = [];
    const startTimer = s.startTimer(this.deps.startTimeoutMs ?? START_TIMEOUT_MS);
    const op = (what: string, fn: (tag: string) => Promise<unknown>) => {
      const run = () => s.enqueue(what, () => fn(tag ?? ""));
      if (attached) run();
      else beforeAttach.push(run);
    };

    const run = async (m: Extract<PtyClientMessage, { type: "start" }>) => {
      const sessionTag = m.tag ?? `term-${randomBytes(6).toString("hex")}`;
      tag = sessionTag;
      try {
        const events = target.agent.ptyAttach(
          {
            sandboxId: target.agentId,
            tag: sessionTag,
            cols: m.cols,
            rows: m.rows,
            ...(m.cmd
              ? { command: { cmd: "/bin/bash", args: ["-l", "-c", m.cmd], envs: {}, cwd: "", user: "" } }
              : {}),
          },
          { signal: s.signal },
        );
        for await (const res of events) {
          const e = res.event;
          if (e.case === "attached") {
            attached = true;
            await s.send({
              type: "started",
              tag: sessionTag,
              pid: e.value.pid,
              reconnected: e.value.reconnected,
            });
            // A reconnecting client's window may differ from the one the terminal was started with.
            if (e.value.reconnected) {
              s.enqueue("resize the terminal", () =>
                target.agent.ptyResize({
                  sandboxId: target.agentId,
                  tag: sessionTag,
                  cols: m.cols,
                  rows: m.rows,
                }),
              );
            }
            for (const fn of beforeAttach.splice(0)) fn();
          } else if (e.case === "output") {
            s.activity();
            await s.send({ type: "output", data: encodeData(e.value) });
          } else if (e.case === "exited") {
            await s.finish({ type: "exit", exit_code: e.value.exitCode });
            return;
          }
        }
        s.fail(errors.unavailable("the terminal stream ended before the terminal exited"));
      } catch (err) {
        s.fail(err, "attach to the terminal");
      }
    };

    return {
      message: (raw, isBinary) => {
        const m = s.parse(PtyClientMessage, raw, isBinary);
        if (!m) return;
        if (m.type === "start") {
          if (tag !== undefined) return s.reject("the terminal was already started");
          clearTimeout(startTimer);
          void run(m);
          return;
        }
        if (tag === undefined) return s.reject("send a start message first");
        s.activity();
        const sandboxId = target.agentId;
        if (m.type === "input") {
          op("send terminal input", (t) =>
            target.agent.ptySendInput({ sandboxId, tag: t, data: decodeData(m.data) }),
          );
        } else if (m.type === "resize") {
          op("resize the terminal", (t) =>
            target.agent.ptyResize({ sandboxId, tag: t, cols: m.cols, rows: m.rows }),
          );
        } else {
          op("kill the terminal", (t) =>
            target.agent.ptyKill({ sandboxId, tag: t, signal: hostagent.Signal.SIGKILL }),
          );
        }
      },
      closed: () => {
        clearTimeout(startTimer);
        s.end(); // only detaches: the terminal keeps running on the agent
      },
    };
  }
}

/** Forwards stdin / close_stdin / signal of exec and process streams to the agent. */
function processInput(
  target: StreamTarget,
  m: ProcessClientMessage,
  input: (what: string, op: (selector: ProcessSelector) => Promise<unknown>) => void,
): void {
  const sandboxId = target.agentId;
  if (m.type === "stdin") {
    const data = decodeData(m.data);
    input("write to stdin", (selector) =>
      target.agent.sendProcessInput({ sandboxId, process: { selector }, data }),
    );
  } else if (m.type === "close_stdin") {
    input("close stdin", (selector) => target.agent.closeProcessStdin({ sandboxId, process: { selector } }));
  } else {
    const signal = m.signal === "SIGTERM" ? hostagent.Signal.SIGTERM : hostagent.Signal.SIGKILL;
    input("signal the process", (selector) =>
      target.agent.killProcess({ sandboxId, process: { selector }, signal }),
    );
  }
}

/**
 * State every stream shares: the abort signal of its agent call, ordered client input
 * (one agent call at a time, so writes arrive in the order they were sent), the
 * throttled activity ping, and ending with an `exit` or `error` message.
 */
class Session {
  done = false;
  private readonly controller = new AbortController();
  private chain: Promise<void> = Promise.resolve();
  private lastPing: number;
  private readonly pingEveryMs: number;

  constructor(
    private readonly target: StreamTarget,
    private readonly peer: StreamPeer,
    private readonly deps: { sandboxes: SandboxesService; log: Logger; now?: () => number },
  ) {
    // Opening the stream marked the sandbox active; keep it so well inside its timeout.
    const timeoutMs = target.sandbox.timeoutSec * 1000;
    this.pingEveryMs = timeoutMs > 0 ? Math.min(30_000, Math.max(1_000, Math.floor(timeoutMs / 4))) : 30_000;
    this.lastPing = this.now();
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Ends the stream with an `invalid_argument` error when no start message came in time. */
  startTimer(ms: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => this.fail(errors.invalidArgument(`no start message within ${Math.round(ms / 1000)} s`)),
      ms,
    );
    timer.unref();
    return timer;
  }

  /** A validated client message, or undefined after telling the client what was wrong. */
  parse<T>(schema: ZodType<T>, raw: string | Buffer, isBinary: boolean): T | undefined {
    if (this.done) return undefined;
    const parsed: Parsed<T> = parseClientMessage(schema, raw, isBinary);
    if (parsed.ok) return parsed.message;
    this.reject(parsed.error);
    return undefined;
  }

  /** Answers one bad client message with an error; the stream stays open. */
  reject(message: string): void {
    void this.send({ type: "error", code: "invalid_argument", message });
  }

  async send(message: ServerMessage): Promise<void> {
    if (!this.done) await this.peer.send(message);
  }

  /** Forwards one process event; true once the process ended (the stream is finished then). */
  async forward(e: hostagent.ProcessEvent["event"]): Promise<boolean> {
    if (e.case === "started") await this.send({ type: "started", pid: e.value.pid });
    else if (e.case === "stdout" || e.case === "stderr") {
      this.activity();
      await this.send({ type: e.case, data: encodeData(e.value) });
    } else if (e.case === "ended") {
      await this.finish({ type: "exit", exit_code: e.value.exitCode, status: e.value.status });
      return true;
    }
    return false;
  }

  /** Runs one input operation after the previous ones; its failure is reported, not fatal. */
  enqueue(what: string, op: () => Promise<unknown>): void {
    this.chain = this.chain.then(async () => {
      if (this.done) return;
      try {
        await op();
      } catch (err) {
        if (this.done) return;
        const e = agentError(err, what);
        this.logInternal(e);
        await this.send({ type: "error", code: e.code, message: e.message });
      }
    });
  }

  /** Pings the sandbox's activity (agent timer and `last_active_at`), at most every few seconds. */
  activity(force = false): void {
    const now = this.now();
    if (!force && now - this.lastPing < this.pingEveryMs) return;
    this.lastPing = now;
    this.deps.sandboxes.ping(this.target.auth, this.target.sandbox.id).catch((err: unknown) => {
      this.deps.log.debug({ err, sandboxId: this.target.agentId }, "stream activity ping failed");
    });
  }

  /** Sends the last message and closes the stream. */
  async finish(last: ServerMessage): Promise<void> {
    if (this.done) return;
    await this.send(last);
    this.done = true;
    this.activity(true);
    this.peer.close();
  }

  /** Ends the stream with an `error` message (unless the client already left). */
  fail(err: unknown, what = "stream"): void {
    if (this.done) return;
    const e = isWrennError(err) ? err : agentError(err, what);
    this.logInternal(e);
    void this.peer.send({ type: "error", code: e.code, message: e.message });
    this.done = true;
    this.controller.abort();
    this.peer.close(e.code);
  }

  /** The client left: stop the agent call. */
  end(): void {
    this.done = true;
    this.controller.abort();
  }

  private logInternal(e: { code: ErrorCode; cause?: unknown; message: string }): void {
    if (e.code === "internal" || e.code === "unavailable") {
      this.deps.log.warn({ err: e.cause ?? e, sandboxId: this.target.agentId }, e.message);
    }
  }
}
