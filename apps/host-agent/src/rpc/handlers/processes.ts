import type { hostagent } from "@wrenn/proto";
import type { SandboxManager } from "../../sandbox/manager.ts";
import * as guest from "../guest.ts";
import type { ErrorMapping, HandlersOf } from "./context.ts";

/**
 * Commands in the guest: run, stream, feed stdin, list, signal and reconnect to processes.
 * `isTerminal` marks listed processes that are terminals (envd's list has no such flag).
 */
export function processHandlers(
  manager: SandboxManager,
  { unary, streaming }: ErrorMapping,
  isTerminal: (sandboxId: string, tag: string) => boolean = () => false,
): HandlersOf<
  | "exec"
  | "execStream"
  | "sendProcessInput"
  | "closeProcessStdin"
  | "listProcesses"
  | "killProcess"
  | "connectProcess"
> {
  return {
    exec: unary("Exec", (req: hostagent.ExecRequest) => guest.exec(manager.envd(req.sandboxId), req)),
    execStream: streaming("ExecStream", (req: hostagent.ExecStreamRequest, ctx) =>
      guest.execStream(manager.envd(req.sandboxId), req, ctx.signal),
    ),
    sendProcessInput: unary("SendProcessInput", async (req: hostagent.SendProcessInputRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.sendInput(
        { process: guest.toEnvdSelector(req.process), input: { input: { case: "stdin", value: req.data } } },
        { headers: envd.headers() },
      );
      return {};
    }),
    closeProcessStdin: unary("CloseProcessStdin", async (req: hostagent.CloseProcessStdinRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.closeStdin(
        { process: guest.toEnvdSelector(req.process) },
        { headers: envd.headers() },
      );
      return {};
    }),
    listProcesses: unary("ListProcesses", async (req: hostagent.ListProcessesRequest) => {
      const envd = manager.envd(req.sandboxId);
      const res = await envd.process.list({}, { headers: envd.headers() });
      return {
        processes: res.processes.map((p) => ({
          pid: p.pid,
          tag: p.tag,
          cmd: p.config?.cmd ?? "",
          args: p.config?.args ?? [],
          envs: p.config?.envs ?? {},
          cwd: p.config?.cwd ?? "",
          pty: p.tag ? isTerminal(req.sandboxId, p.tag) : false,
        })),
      };
    }),
    killProcess: unary("KillProcess", async (req: hostagent.KillProcessRequest) => {
      const envd = manager.envd(req.sandboxId);
      await envd.process.sendSignal(
        { process: guest.toEnvdSelector(req.process), signal: guest.toEnvdSignal(req.signal) },
        { headers: envd.headers() },
      );
      return {};
    }),
    connectProcess: streaming("ConnectProcess", async function* (req: hostagent.ConnectProcessRequest, ctx) {
      const envd = manager.envd(req.sandboxId);
      const events = envd.process.connect(
        { process: guest.toEnvdSelector(req.process) },
        { headers: envd.headers(), signal: ctx.signal },
      );
      for await (const res of events) {
        const mapped = res.event ? guest.toProcessEvent(res.event) : undefined;
        if (mapped) yield { event: mapped };
      }
    }),
  };
}
