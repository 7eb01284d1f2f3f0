import { errors } from "@wrenn/common";
import { hostagent } from "@wrenn/proto";
import { callAgent } from "../hosts/pool.ts";
import type { AuthContext } from "./auth-context.ts";
import type { SandboxesService } from "./sandboxes.ts";

/** A process envd tracks in a sandbox, as the API shows it. */
export interface ProcessView {
  pid: number;
  tag: string | null;
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd: string;
  pty: boolean;
}

/** A process chosen by pid (digits) or by tag (anything else). */
export function parseProcessSelector(value: string): hostagent.ProcessSelector["selector"] {
  if (/^\d{1,10}$/.test(value)) return { case: "pid", value: Number(value) };
  if (!value || value.length > 256)
    throw errors.invalidArgument("process must be a pid or a tag of 1-256 characters");
  return { case: "tag", value };
}

/** Background processes and terminals envd tracks in a running sandbox. */
export class SandboxProcessesService {
  constructor(private readonly sandboxes: SandboxesService) {}

  /** Every tracked process. */
  async list(auth: AuthContext, id: string): Promise<ProcessView[]> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "list processes in");
    const res = await callAgent("list processes", () => agent.listProcesses({ sandboxId: agentId }));
    return res.processes.map((p) => ({
      pid: p.pid,
      tag: p.tag ?? null,
      cmd: p.cmd,
      args: p.args,
      envs: p.envs,
      cwd: p.cwd,
      pty: p.pty,
    }));
  }

  /** Signals a process (SIGKILL unless `signal` is SIGTERM). */
  async kill(auth: AuthContext, id: string, process: string, signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    const { agent, agentId } = await this.sandboxes.running(auth, id, "signal processes in");
    await callAgent("signal the process", () =>
      agent.killProcess({
        sandboxId: agentId,
        process: { selector: parseProcessSelector(process) },
        signal: signal === "SIGTERM" ? hostagent.Signal.SIGTERM : hostagent.Signal.SIGKILL,
      }),
    );
  }
}
