import { posix } from "node:path";
import { errors } from "@wrenn/common";
import type { Template } from "@wrenn/db";
import type { BuildLogWriter } from "./build-log.ts";
import { type ContextFile, filesFor } from "./context.ts";
import { shellQuote } from "./dockerfile.ts";
import type { BuildSandbox } from "./sandbox.ts";
import { type BuildSpec, type BuildStep, describeStep, POST_STEPS, PRE_STEPS } from "./steps.ts";

/** One entry of a build's plan: a step and who runs it (pre/post steps always run as root). */
export interface PlanItem {
  step: BuildStep;
  asRoot: boolean;
}

/** The steps a build runs: pre steps, the spec's, post steps (unless `skip_pre_post`). */
export function buildPlan(spec: BuildSpec, skipPrePost: boolean): PlanItem[] {
  const mine = spec.steps.map((step) => ({ step, asRoot: false }));
  if (skipPrePost) return mine;
  const root = (step: BuildStep) => ({ step, asRoot: true });
  return [...PRE_STEPS.map(root), ...mine, ...POST_STEPS.map(root)];
}

/** The guest-side settings ENV/USER/WORKDIR steps accumulate. */
export interface GuestState {
  envs: Record<string, string>;
  user: string;
  workdir: string;
}

export function initialState(base: Template): GuestState {
  return { envs: { ...base.envs }, user: base.defaultUser ?? "user", workdir: base.defaultWorkdir ?? "" };
}

/** Applies a step's effect on the settings (the guest-side effect is the runner's job). */
export function applySettings(state: GuestState, step: BuildStep): void {
  if (step.kind === "env") Object.assign(state.envs, step.envs);
  if (step.kind === "user") state.user = step.user;
  if (step.kind === "workdir") state.workdir = resolveGuestPath(state, step.path);
}

export function resolveGuestPath(state: GuestState, path: string): string {
  if (path.startsWith("/")) return posix.normalize(path);
  const base = state.workdir || (state.user === "root" ? "/root" : `/home/${state.user}`);
  return posix.join(base, path);
}

/** Raised for a step that failed; the message is what the user sees. */
export class StepFailed extends Error {
  constructor(
    readonly step: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs one step in the build sandbox; returns the exit code for RUN steps. */
export async function runStep(
  sandbox: BuildSandbox,
  item: PlanItem,
  state: GuestState,
  files: ContextFile[],
  log: BuildLogWriter,
  n: number,
  signal: AbortSignal,
  limits: { stepTimeoutSec: number },
): Promise<number | null> {
  const { step } = item;
  const user = item.asRoot ? "root" : state.user;
  const cwd = state.workdir;
  const shell = async (script: string, asUser: string) => {
    let tail = "";
    const out = await sandbox.run(
      script,
      {
        user: asUser,
        cwd: asUser === "root" && !cwd ? "/" : cwd,
        envs: state.envs,
        timeoutSec: limits.stepTimeoutSec,
      },
      (stream, text) => {
        log.output(n, stream, text);
        tail = (tail + text).slice(-4000);
      },
      signal,
    );
    if (out.exitCode !== 0) {
      const why = out.exitCode === null ? out.status || "killed" : `exit code ${out.exitCode}`;
      throw new StepFailed(
        n,
        `step ${n} (${describeStep(step)}) failed: ${why}${tail ? `\n${tail.trimEnd()}` : ""}`,
      );
    }
    return out.exitCode;
  };
  switch (step.kind) {
    case "run":
      return shell(step.command, user);
    case "env":
      applySettings(state, step);
      return null;
    case "user":
      // A USER naming an account the base lacks creates it (as E2B's setUser does), home included.
      await shell(
        `id -u ${shellQuote(step.user)} >/dev/null 2>&1 || useradd -m -s /bin/bash ${shellQuote(step.user)}`,
        "root",
      );
      applySettings(state, step);
      return null;
    case "workdir": {
      applySettings(state, step);
      const dir = shellQuote(state.workdir);
      const own = state.user === "root" ? "" : ` && chown ${shellQuote(state.user)} ${dir}`;
      await shell(`mkdir -p ${dir}${own}`, "root");
      return null;
    }
    case "copy": {
      const matched = filesFor(step.src, files);
      const single = matched.length === 1 && matched[0]?.relative === step.src.split("/").pop();
      const dest = resolveGuestPath(state, step.dest);
      const intoDir = step.dest.endsWith("/") || !single;
      const modes: string[] = [];
      for (const { file, relative } of matched) {
        const target = intoDir ? posix.join(dest, relative) : dest;
        await sandbox.writeFile(target, file.content, user);
        if ((file.mode & 0o777) !== 0o644)
          modes.push(`chmod ${(file.mode & 0o7777).toString(8)} ${shellQuote(target)}`);
      }
      if (modes.length) await shell(modes.join(" && "), user);
      log.system(`copied ${matched.length} file(s) to ${dest}`, n);
      return null;
    }
  }
}

export async function startAndWaitReady(
  sandbox: BuildSandbox,
  spec: BuildSpec,
  state: GuestState,
  log: BuildLogWriter,
  signal: AbortSignal,
  limits: { readyTimeoutMs: number },
): Promise<void> {
  const opts = { user: state.user, cwd: state.workdir, envs: state.envs };
  const pid = await sandbox.startBackground(spec.startCmd as string, opts);
  log.system(`start command running (pid ${pid}): ${spec.startCmd}`);
  if (!spec.readyCmd) return;
  const deadline = Date.now() + limits.readyTimeoutMs;
  let last = "";
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new Cancelled();
    let output = "";
    const res = await sandbox.run(
      spec.readyCmd,
      { ...opts, timeoutSec: 30 },
      (_s, text) => {
        output = (output + text).slice(-2000);
      },
      signal,
    );
    if (res.exitCode === 0) {
      log.system(`ready check passed (attempt ${attempt}): ${spec.readyCmd}`);
      return;
    }
    last = output.trim() || res.status;
    if (Date.now() >= deadline) {
      throw errors.failedPrecondition(
        `the ready check did not pass within ${Math.round(limits.readyTimeoutMs / 1000)} s: ${spec.readyCmd}${last ? `\n${last}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** This process shut down while the build ran: it is failed, not resumed. */
export class ShutDown extends Error {
  constructor() {
    super("the control plane shut down during this build; it was failed (not resumed) — submit it again");
  }
}

/** The build was cancelled (by a cancel request) while the runner was at it. */
export class Cancelled extends Error {
  constructor() {
    super("build cancelled");
  }
}
