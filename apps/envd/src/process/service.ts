import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { errors } from "@wrenn/common";
import type { ProcessEventSchema } from "@wrenn/proto";
import {
  type Process,
  type ProcessEvent,
  type ProcessInput,
  type ProcessSelector as ProtoSelector,
  Signal,
} from "@wrenn/proto";
import type { EnvdContext } from "../context.ts";
import { keepaliveIntervalMs, rpcUser } from "../rpc.ts";
import type { EventQueue } from "./event-queue.ts";
import type { ManagedProcess } from "./managed-process.ts";
import type { ProcessManager, ProcessSelector } from "./manager.ts";

type EventInit = MessageInitShape<typeof ProcessEventSchema>;

function selectorOf(selector: ProtoSelector | undefined): ProcessSelector {
  switch (selector?.selector.case) {
    case "pid":
      return { pid: selector.selector.value };
    case "tag":
      return { tag: selector.selector.value };
    default:
      throw errors.invalidArgument("a process selector (pid or tag) is required");
  }
}

/**
 * Streams a process's events to one reader until the process ends or the
 * client goes away (then the reader detaches and the process keeps running).
 */
async function* streamEvents(
  process: ManagedProcess,
  reader: EventQueue,
  handler: HandlerContext,
): AsyncGenerator<{ event: EventInit }> {
  const interval = keepaliveIntervalMs(handler);
  try {
    yield { event: { event: { case: "start", value: { pid: process.pid } } } };
    for (;;) {
      const next = await reader.next(interval, handler.signal);
      if (next === undefined) return;
      if (next === "timeout") {
        yield { event: { event: { case: "keepalive", value: {} } } };
        continue;
      }
      if (next.kind === "data") {
        yield {
          event: { event: { case: "data", value: { output: { case: next.stream, value: next.data } } } },
        };
        continue;
      }
      yield {
        event: {
          event: {
            case: "end",
            value: { exitCode: next.exitCode, exited: next.exited, status: next.status, error: next.error },
          },
        },
      };
      return;
    }
  } finally {
    process.detach(reader);
  }
}

async function writeInput(process: ManagedProcess, input: ProcessInput | undefined): Promise<void> {
  const data = input?.input;
  if (!data || data.case === undefined) throw errors.invalidArgument("input is required");
  await process.write(data.value, data.case);
}

/** The `process.Process` Connect service. */
export function createProcessService(ctx: EnvdContext, manager: ProcessManager): ServiceImpl<typeof Process> {
  return {
    async list() {
      return {
        processes: manager.list().map((process) => ({
          pid: process.pid,
          tag: process.spec.tag,
          config: {
            cmd: process.spec.cmd,
            args: process.spec.args,
            envs: process.spec.requestedEnvs,
            cwd: process.spec.cwd,
          },
        })),
      };
    },

    async *start(req, handler) {
      const user = rpcUser(ctx, handler);
      const config = req.process;
      if (!config) throw errors.invalidArgument("process config is required");
      const size = req.pty?.size;
      const { process, reader } = await manager.start(
        {
          cmd: config.cmd,
          args: config.args,
          envs: config.envs,
          cwd: config.cwd || undefined,
          tag: req.tag || undefined,
          // The field is optional for old clients, which always had stdin.
          stdin: req.stdin ?? true,
          pty: req.pty ? { cols: size?.cols || 80, rows: size?.rows || 24 } : undefined,
        },
        user,
      );
      yield* streamEvents(process, reader, handler);
    },

    async *connect(req, handler) {
      const { process, reader } = manager.attach(selectorOf(req.process));
      yield* streamEvents(process, reader, handler);
    },

    async update(req) {
      const process = manager.get(selectorOf(req.process));
      const size = req.pty?.size;
      if (size) process.resize(size.cols, size.rows);
      return {};
    },

    async streamInput(requests) {
      let process: ManagedProcess | undefined;
      for await (const message of requests) {
        switch (message.event.case) {
          case "start":
            process = manager.get(selectorOf(message.event.value.process));
            break;
          case "data":
            if (!process) throw errors.invalidArgument("the first message must select the process");
            await writeInput(process, message.event.value.input);
            break;
          default:
            break;
        }
      }
      return {};
    },

    async sendInput(req) {
      await writeInput(manager.get(selectorOf(req.process)), req.input);
      return {};
    },

    async sendSignal(req) {
      const process = manager.get(selectorOf(req.process));
      if (req.signal === Signal.SIGTERM) process.signal("SIGTERM");
      else if (req.signal === Signal.SIGKILL) process.signal("SIGKILL");
      else throw errors.invalidArgument("signal must be SIGTERM or SIGKILL");
      return {};
    },

    async closeStdin(req) {
      manager.get(selectorOf(req.process)).closeStdin();
      return {};
    },
  };
}

export type { ProcessEvent };
