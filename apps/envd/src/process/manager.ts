import { stat } from "node:fs/promises";
import { errors } from "@wrenn/common";
import type { EnvdContext } from "../context.ts";
import { resolveUserPath } from "../paths.ts";
import { loginEnvironment, type UserAccount } from "../users.ts";
import type { EventQueue } from "./event-queue.ts";
import { ManagedProcess, type SpawnSpec } from "./managed-process.ts";

/** What a client asks to run. */
export interface StartOptions {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd: string | undefined;
  tag: string | undefined;
  stdin: boolean;
  pty: { cols: number; rows: number } | undefined;
}

/** How a client names a process: by pid or by the tag it gave at start. */
export type ProcessSelector = { pid: number } | { tag: string };

/** How long an ended process stays reachable for a reader that was away when it ended. */
const UNCLAIMED_END_RETENTION_MS = 60_000;

/**
 * The table of processes envd started. Processes outlive the streams that
 * started them (a client may re-attach by pid or tag) and carry no deadline.
 */
export class ProcessManager {
  private readonly processes = new Map<number, ManagedProcess>();

  constructor(private readonly ctx: EnvdContext) {}

  /** Starts a process as `user`; returns it and the first reader's queue. */
  async start(
    options: StartOptions,
    user: UserAccount,
  ): Promise<{ process: ManagedProcess; reader: EventQueue }> {
    if (!options.cmd) throw errors.invalidArgument("cmd is required");
    if (options.tag !== undefined && this.findByTag(options.tag)?.running) {
      throw errors.alreadyExists(`a process tagged '${options.tag}' is already running`);
    }
    const { state, config } = this.ctx;
    const cwd = resolveUserPath(options.cwd ?? state.defaultWorkdir ?? user.home, user, state.defaultWorkdir);
    const cwdInfo = await stat(cwd).catch(() => undefined);
    if (!cwdInfo) throw errors.notFound(`working directory '${cwd}' does not exist`);
    if (!cwdInfo.isDirectory()) throw errors.invalidArgument(`working directory '${cwd}' is not a directory`);
    for (const key of Object.keys(options.envs)) {
      if (key === "" || key.includes("=") || key.includes("\0"))
        throw errors.invalidArgument(`invalid env var '${key}'`);
    }
    const spec: SpawnSpec = {
      cmd: options.cmd,
      args: options.args,
      requestedEnvs: options.envs,
      env: { ...loginEnvironment(user), PWD: cwd, ...state.processEnvironment(), ...options.envs },
      cwd,
      uid: user.uid,
      gid: user.gid,
      tag: options.tag,
      stdin: options.stdin,
      pty: options.pty,
    };
    const started = await ManagedProcess.spawn(spec, config.outputBufferBytes);
    const { process } = started;
    this.processes.set(process.pid, process);
    process.onExit(() => {
      if (!process.awaitingReader) {
        this.forget(process);
        return;
      }
      setTimeout(() => this.forget(process), UNCLAIMED_END_RETENTION_MS).unref();
    });
    this.ctx.logger.debug({ pid: process.pid, cmd: options.cmd, user: user.name }, "process started");
    return started;
  }

  /** The processes still running. */
  list(): ManagedProcess[] {
    return [...this.processes.values()].filter((process) => process.running);
  }

  /** The process a selector names; `not_found` when there is none. */
  get(selector: ProcessSelector): ManagedProcess {
    const process = "pid" in selector ? this.processes.get(selector.pid) : this.findByTag(selector.tag);
    if (!process) {
      throw errors.notFound(
        "pid" in selector ? `process ${selector.pid} not found` : `process '${selector.tag}' not found`,
      );
    }
    return process;
  }

  /** Re-attaches to a process; an ended one is dropped once its end event was handed out. */
  attach(selector: ProcessSelector): { process: ManagedProcess; reader: EventQueue } {
    const process = this.get(selector);
    const reader = process.attach();
    if (!process.running) this.forget(process);
    return { process, reader };
  }

  /** Sends SIGKILL to every running process (envd shutdown in tests). */
  killAll(): void {
    for (const process of this.list()) {
      try {
        process.signal("SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  private findByTag(tag: string): ManagedProcess | undefined {
    let found: ManagedProcess | undefined;
    for (const process of this.processes.values()) {
      if (process.spec.tag === tag && (!found || process.running)) found = process;
    }
    return found;
  }

  private forget(process: ManagedProcess): void {
    if (this.processes.get(process.pid) === process) this.processes.delete(process.pid);
  }
}
