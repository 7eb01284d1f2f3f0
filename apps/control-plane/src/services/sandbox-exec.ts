import { errors } from "@wrenn/common";
import { type AgentClient, callAgent } from "../hosts/pool.ts";
import type { AuthContext } from "./auth-context.ts";
import { checkRange, sandboxLimits } from "./sandbox-spec.ts";

/** A command for {@link SandboxesService.exec}. */
export interface ExecInput {
  cmd: string;
  args?: string[] | undefined;
  envs?: Record<string, string> | undefined;
  cwd?: string | undefined;
  /** Guest user to run as; the sandbox's default user when absent. */
  user?: string | undefined;
  timeoutSec?: number | undefined;
  /** Start and return at once with the pid; the process keeps running (see the processes routes). */
  background?: boolean | undefined;
  /** Name of a background process, usable instead of its pid. */
  tag?: string | undefined;
}

/** The outcome of a synchronous command. */
export interface ExecOutput {
  pid: number;
  /** Null when the command was killed by the timeout. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** What running a command needs of the sandboxes service (its running-sandbox lookup and activity clock). */
export interface CommandTarget {
  running(
    auth: AuthContext,
    id: string,
    action: string,
  ): Promise<{ sandbox: { id: string }; agent: AgentClient; agentId: string }>;
  touch(id: string): Promise<unknown>;
}

/**
 * Runs a command in a running sandbox of the caller's team until it ends (or starts it in the
 * background); without `args`, `cmd` is a shell line for `/bin/bash -l -c`. The sandbox counts as
 * active when the command starts and again when it ends, so a long command is not idle time.
 */
export async function runCommand(
  sandboxes: CommandTarget,
  auth: AuthContext,
  id: string,
  input: ExecInput,
): Promise<ExecOutput> {
  const { sandbox, agent, agentId } = await sandboxes.running(auth, id, "run commands in");
  const timeoutSec = checkRange(
    input.timeoutSec ?? sandboxLimits.execTimeoutSec.default,
    sandboxLimits.execTimeoutSec,
    "timeout_sec",
  );
  const command =
    input.args === undefined
      ? { cmd: "/bin/bash", args: ["-l", "-c", input.cmd] }
      : { cmd: input.cmd, args: input.args };
  const res = await callAgent("run the command", () =>
    agent.exec(
      {
        sandboxId: agentId,
        command: { ...command, envs: input.envs ?? {}, cwd: input.cwd ?? "", user: input.user ?? "" },
        timeoutSec,
        background: input.background ?? false,
        tag: input.tag ?? "",
      },
      { timeoutMs: (timeoutSec + 30) * 1000 },
    ),
  );
  await sandboxes.touch(sandbox.id);
  if (res.exitCode === undefined && !res.timedOut && !input.background && res.error) {
    throw errors.invalidArgument(`command failed to start: ${res.error}`);
  }
  const decoder = new TextDecoder();
  return {
    pid: res.pid,
    exitCode: res.exitCode ?? null,
    stdout: decoder.decode(res.stdout),
    stderr: decoder.decode(res.stderr),
    timedOut: res.timedOut,
  };
}
