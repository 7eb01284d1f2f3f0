import { Code, ConnectError } from "@connectrpc/connect";
import { errors, type Logger } from "@wrenn/common";
import type { hostagent } from "@wrenn/proto";
import type { SandboxManager } from "../../sandbox/manager.ts";
import type { SandboxState } from "../../sandbox/types.ts";
import * as guest from "../guest.ts";
import { DEFAULT_PTY_IDLE_TIMEOUT_MS, PtySessions } from "../pty-sessions.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";

/**
 * The agent's {@link PtySessions}: a detached terminal idle for `idleTimeoutMs`
 * (default 120 s) is killed through envd.
 */
export function createPtySessions(
  manager: SandboxManager,
  logger: Logger,
  idleTimeoutMs = DEFAULT_PTY_IDLE_TIMEOUT_MS,
): PtySessions {
  return new PtySessions({
    idleTimeoutMs,
    logger,
    sandboxState: (id) => {
      let state: SandboxState;
      try {
        state = manager.get(id).state;
      } catch {
        return "gone";
      }
      if (state === "running") return "running";
      return state === "stopping" || state === "stopped" || state === "error" ? "gone" : "paused";
    },
    follow: async function* (id, tag, signal) {
      const envd = manager.envd(id);
      try {
        const events = envd.process.connect(
          { process: guest.tagSelector(tag) },
          { headers: envd.headers(), signal },
        );
        for await (const res of events) {
          const kind = res.event?.event.case;
          if (kind === "data") yield "output" as const;
          else if (kind === "end") yield "end" as const;
        }
      } catch (err) {
        // The process ended between the detach and this connect.
        if (ConnectError.from(err).code === Code.NotFound) yield "end" as const;
        else throw err;
      }
    },
    kill: async (id, tag) => {
      const envd = manager.envd(id);
      await envd.process.sendSignal(
        { process: guest.tagSelector(tag), signal: 9 },
        { headers: envd.headers() },
      );
    },
  });
}

/** Terminals in the guest: attach (start or reconnect), input, resize, kill. */
export function ptyHandlers(
  manager: SandboxManager,
  sessions: PtySessions,
  { unary, streaming }: ErrorMapping,
): HandlersOf<"ptyAttach" | "ptySendInput" | "ptyResize" | "ptyKill"> {
  return {
    ptyAttach: streaming("PtyAttach", async function* (req: hostagent.PtyAttachRequest, ctx) {
      const envd = manager.envd(req.sandboxId);
      const selector = guest.tagSelector(req.tag);
      const headers = envd.headers(req.command?.user);
      const existing = (await envd.process.list({}, { headers })).processes.some((p) => p.tag === req.tag);
      const events = existing
        ? envd.process.connect({ process: selector }, { headers, signal: ctx.signal })
        : envd.process.start(
            {
              process: {
                cmd: req.command?.cmd || "/bin/bash",
                args: req.command?.cmd ? req.command.args : ["-l"],
                envs: { TERM: "xterm-256color", ...req.command?.envs },
                cwd: req.command?.cwd || undefined,
              },
              pty: { size: { cols: req.cols || 80, rows: req.rows || 24 } },
              tag: req.tag,
              stdin: true,
            },
            { headers, signal: ctx.signal },
          );
      let detach: (() => void) | undefined;
      try {
        for await (const res of events) {
          const event = res.event?.event;
          if (event?.case === "start") {
            detach ??= sessions.attach(req.sandboxId, req.tag);
            yield {
              event: { case: "attached" as const, value: { pid: event.value.pid, reconnected: existing } },
            };
          } else if (
            event?.case === "data" &&
            (event.value.output.case === "pty" || event.value.output.case === "stdout")
          ) {
            yield { event: { case: "output" as const, value: event.value.output.value } };
          } else if (event?.case === "end") {
            sessions.ended(req.sandboxId, req.tag);
            yield {
              event: {
                case: "exited" as const,
                value: {
                  exitCode: event.value.exitCode,
                  status: event.value.status,
                  error: event.value.error ?? "",
                },
              },
            };
          }
        }
      } finally {
        // A disconnect leaves the session running; PtySessions kills it if it stays idle.
        detach?.();
      }
    }),
    ptySendInput: unary("PtySendInput", async (req: hostagent.PtySendInputRequest) => {
      const envd = manager.envd(req.sandboxId);
      sessions.activity(req.sandboxId, req.tag);
      await envd.process.sendInput(
        { process: guest.tagSelector(req.tag), input: { input: { case: "pty", value: req.data } } },
        { headers: envd.headers() },
      );
      return {};
    }),
    ptyResize: unary("PtyResize", async (req: hostagent.PtyResizeRequest) => {
      const envd = manager.envd(req.sandboxId);
      if (!req.cols || !req.rows) throw errors.invalidArgument("cols and rows are required");
      await envd.process.update(
        { process: guest.tagSelector(req.tag), pty: { size: { cols: req.cols, rows: req.rows } } },
        { headers: envd.headers() },
      );
      return {};
    }),
    ptyKill: unary("PtyKill", async (req: hostagent.PtyKillRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.sendSignal(
        { process: guest.tagSelector(req.tag), signal: guest.toEnvdSignal(req.signal) },
        { headers: envd.headers() },
      );
      return {};
    }),
  };
}
