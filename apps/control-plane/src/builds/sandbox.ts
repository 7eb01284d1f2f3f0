import { randomUUID } from "node:crypto";
import { errors, type Logger, type WrennError } from "@wrenn/common";
import { createSandboxRow, type Database, getHost, type Host, updateSandbox } from "@wrenn/db";
import { placeVm } from "../hosts/placement.ts";
import { type AgentClient, agentError, callAgent, type HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import { formatId } from "../ids.ts";

/** What a build sandbox starts from: a template (any kind) or a cache layer, as the agent knows it. */
export interface BuildOrigin {
  /** Template name shown on the sandbox row. */
  name: string;
  /** Row id for `sandboxes.template_id` (the template's or the layer's). */
  rowId: string;
  /** Directory id on the agent (`teams/{teamId}/{agentId}`). */
  agentId: string;
  teamId: string;
  /** Host holding its files; null when any host can start it. */
  hostId: string | null;
}

/** A command's outcome: exit code (null when killed or timed out) and the last of its output. */
export interface StepOutput {
  exitCode: number | null;
  status: string;
}

/**
 * The sandbox a build runs in: an ordinary sandbox row of the build's team
 * (metadata `wrenn.build`), placed like any other, driven through its host's
 * agent. Every call maps agent failures to Wrenn errors naming the host.
 */
export class BuildSandbox {
  private constructor(
    private readonly db: Database,
    readonly host: Host,
    private readonly agent: AgentClient,
    /** Sandbox row id. */
    readonly id: string,
  ) {}

  /** The sandbox id as the agent knows it. */
  get wireId(): string {
    return formatId("sandbox", this.id);
  }

  /** Places and starts a build sandbox; `onPlaced` runs once the row exists (before the VM starts). */
  static async start(
    deps: { db: Database; pool: HostClientPool; scheduler: Scheduler },
    input: {
      teamId: string;
      buildId: string;
      origin: BuildOrigin;
      vcpus: number;
      memoryMb: number;
      diskSizeMb: number;
      onPlaced: (sandboxId: string, hostId: string) => Promise<void>;
    },
  ): Promise<BuildSandbox> {
    const host = await pickHost(deps, input);
    const id = randomUUID();
    await createSandboxRow(deps.db, {
      id,
      teamId: input.teamId,
      hostId: host.id,
      template: input.origin.name,
      templateId: input.origin.rowId,
      vcpus: input.vcpus,
      memoryMb: input.memoryMb,
      diskSizeMb: input.diskSizeMb,
      timeoutSec: 0,
      metadata: { "wrenn.build": formatId("build", input.buildId) },
      envdAccessToken: null,
    });
    try {
      await input.onPlaced(id, host.id);
    } catch (err) {
      // Cancelled before the VM was asked for: the row must not stay `starting`.
      await updateSandbox(deps.db, id, { state: "stopped" });
      throw err;
    }
    const agent = deps.pool.get(host);
    const sandbox = new BuildSandbox(deps.db, host, agent, id);
    try {
      await agent.createSandbox(
        {
          sandboxId: sandbox.wireId,
          teamId: input.teamId,
          templateId: input.origin.agentId,
          templateTeamId: input.origin.teamId,
          templateName: input.origin.name,
          vcpus: input.vcpus,
          memoryMb: input.memoryMb,
          diskSizeMb: input.diskSizeMb,
          timeoutSec: 0,
          envs: {},
          metadata: { "wrenn.build": formatId("build", input.buildId) },
        },
        { timeoutMs: 10 * 60_000 },
      );
    } catch (err) {
      await updateSandbox(deps.db, id, { state: "error" });
      throw hostFailure(host, err, "start the build sandbox");
    }
    const now = new Date();
    await updateSandbox(deps.db, id, { state: "running", startedAt: now, lastActiveAt: now }, now);
    return sandbox;
  }

  /**
   * Runs `script` with `/bin/sh -c` and hands each output chunk to `onOutput`
   * as it arrives. Aborting `signal` kills the command (the call is cancelled).
   */
  async run(
    script: string,
    opts: { user: string; cwd: string; envs: Record<string, string>; timeoutSec: number },
    onOutput: (stream: "stdout" | "stderr", text: string) => void,
    signal?: AbortSignal,
  ): Promise<StepOutput> {
    const decoder = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    let ended: StepOutput | undefined;
    try {
      const stream = this.agent.execStream(
        {
          sandboxId: this.wireId,
          command: { cmd: "/bin/sh", args: ["-c", script], envs: opts.envs, cwd: opts.cwd, user: opts.user },
          timeoutSec: opts.timeoutSec,
        },
        { timeoutMs: (opts.timeoutSec + 30) * 1000, ...(signal ? { signal } : {}) },
      );
      for await (const msg of stream) {
        const ev = msg.event?.event;
        if (!ev) continue;
        if (ev.case === "stdout" || ev.case === "stderr") {
          onOutput(ev.case, decoder[ev.case].decode(ev.value, { stream: true }));
        } else if (ev.case === "ended") {
          ended = {
            exitCode: ev.value.exited ? ev.value.exitCode : null,
            status: ev.value.error || ev.value.status,
          };
        }
      }
    } catch (err) {
      throw this.failure(err, "run a build step");
    }
    return ended ?? { exitCode: null, status: "the command ended without an exit status" };
  }

  /** Starts `script` in the background (the start command), tagged `start`. */
  async startBackground(
    script: string,
    opts: { user: string; cwd: string; envs: Record<string, string> },
  ): Promise<number> {
    const res = await callAgent("start the start command", () =>
      this.agent.exec({
        sandboxId: this.wireId,
        command: { cmd: "/bin/sh", args: ["-c", script], envs: opts.envs, cwd: opts.cwd, user: opts.user },
        background: true,
        tag: "start",
      }),
    ).catch((err) => {
      throw this.failure(err, "start the start command");
    });
    if (res.error) throw errors.invalidArgument(`the start command failed to start: ${res.error}`);
    return res.pid;
  }

  /** Writes one file (parents created) as `user`. */
  async writeFile(path: string, content: Buffer, user: string): Promise<void> {
    try {
      await this.agent.writeFile({ sandboxId: this.wireId, path, content, user });
    } catch (err) {
      throw this.failure(err, `write ${path}`);
    }
  }

  /** Captures the running sandbox as snapshot template `teams/{teamId}/{templateId}`; it keeps running. */
  async snapshot(teamId: string, templateId: string, name: string): Promise<number> {
    try {
      const r = await this.agent.createSnapshot(
        { sandboxId: this.wireId, teamId, templateId, templateName: name },
        { timeoutMs: 15 * 60_000 },
      );
      return Number(r.sizeBytes);
    } catch (err) {
      throw this.failure(err, "capture the snapshot");
    }
  }

  /** Flattens the disk into image template `teams/{teamId}/{templateId}`; the sandbox is gone afterwards. */
  async flatten(teamId: string, templateId: string, name: string): Promise<number> {
    try {
      const r = await this.agent.flattenRootfs(
        { sandboxId: this.wireId, teamId, templateId, templateName: name },
        { timeoutMs: 15 * 60_000 },
      );
      await updateSandbox(this.db, this.id, { state: "stopped" });
      return Number(r.sizeBytes);
    } catch (err) {
      throw this.failure(err, "flatten the disk");
    }
  }

  /** Deletes template files this build wrote on the host (a result that must not stay). */
  async deleteTemplateFiles(teamId: string, templateId: string): Promise<void> {
    await this.agent.deleteSnapshot({ teamId, templateId }).catch(() => undefined);
  }

  private failure(err: unknown, what: string): WrennError {
    return hostFailure(this.host, err, what);
  }
}

/** An agent failure; when the host itself is the problem, a message naming it. */
function hostFailure(host: Host, err: unknown, what: string): WrennError {
  const mapped = agentError(err, what);
  if (mapped.code !== "unavailable") return mapped;
  return errors.unavailable(
    `host ${formatId("host", host.id)} failed during the build (${mapped.message})`,
    err,
  );
}

/**
 * Destroys a build sandbox by row id wherever it is (cancel, clean-up, restart recovery). Never throws.
 * The row ends `stopped` even when the host cannot be reached: a build sandbox has no future, and a VM
 * the database no longer places as live is destroyed as an orphan once its host answers again.
 */
export async function destroyBuildSandbox(
  deps: { db: Database; pool: HostClientPool; log?: Logger },
  sandboxId: string,
  hostId: string | null,
): Promise<void> {
  const host = hostId ? await getHost(deps.db, hostId) : undefined;
  if (host && host.status === "online") {
    try {
      await deps.pool.get(host).destroySandbox({ sandboxId: formatId("sandbox", sandboxId) });
    } catch (err) {
      // not_found: already gone (flattened, or destroyed by the other party of a cancel).
      if (agentError(err, "destroy the build sandbox").code !== "not_found") {
        deps.log?.warn(
          { err, sandboxId, hostId },
          "build sandbox not destroyed now; its host's reconciliation will",
        );
      }
    }
  }
  await updateSandbox(deps.db, sandboxId, { state: "stopped" }).catch(() => undefined);
}

function pickHost(
  deps: { db: Database; scheduler: Scheduler },
  input: { teamId: string; origin: BuildOrigin; vcpus: number; memoryMb: number },
): Promise<Host> {
  const pinned = input.origin.hostId ? { hostId: input.origin.hostId, label: input.origin.name } : undefined;
  return placeVm(deps, input.teamId, input, { pinned, noHostMessage: "no host is online to run the build" });
}
