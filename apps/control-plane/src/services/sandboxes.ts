import { randomBytes, randomUUID } from "node:crypto";
import { assertSafeName, errors, type Logger } from "@wrenn/common";
import {
  countActiveSandboxesByHost,
  createSandboxRow,
  type Database,
  findTemplateByName,
  getHost,
  getSandbox,
  type Host,
  listLiveSandboxesOfTeam,
  listSandboxes,
  listSchedulableHosts,
  PLATFORM_TEAM_ID,
  type Sandbox,
  type SandboxState,
  type Template,
  transitionSandbox,
  updateSandbox,
} from "@wrenn/db";
import { type AgentClient, agentError, callAgent, type HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import type { AuthContext } from "../http/context.ts";
import { formatId } from "../ids.ts";
import { currentTeamAccess } from "./access.ts";
import { type Actor, actorOf, systemActor } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import { flushSandboxMetrics } from "./sandbox-metrics.ts";

/** Bounds of sandbox sizes; requests outside them are `invalid_argument` naming the limit. */
export const sandboxLimits = {
  vcpus: { min: 1, max: 8 },
  memoryMb: { min: 128, max: 16_384 },
  diskSizeMb: { min: 512, max: 102_400 },
  timeoutSec: { min: 0, max: 86_400 },
  execTimeoutSec: { min: 1, max: 3_600, default: 60 },
} as const;

/** Default inactivity timeout (auto-pause) of a new sandbox. */
export const DEFAULT_TIMEOUT_SEC = 300;
const DEFAULT_DISK_MB = 5120;

/** What a caller asks for when creating a sandbox. */
export interface CreateSandboxInput {
  template?: string | undefined;
  vcpus?: number | undefined;
  memoryMb?: number | undefined;
  diskSizeMb?: number | undefined;
  timeoutSec?: number | undefined;
  metadata?: Record<string, string> | undefined;
  envs?: Record<string, string> | undefined;
}

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

/** Filters and page of a listing. */
export interface ListSandboxesInput {
  states?: SandboxState[] | undefined;
  metadata?: Record<string, string> | undefined;
  cursor?: string | undefined;
  limit: number;
}

// States in which the sandbox holds something on its host.
const LIVE: SandboxState[] = ["pending", "starting", "running", "paused", "missing"];

function checkRange(value: number, bounds: { min: number; max: number }, field: string): number {
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw errors.invalidArgument(`${field} must be an integer from ${bounds.min} to ${bounds.max}`);
  }
  return value;
}

/**
 * The id under which the agent knows a template: platform image templates are
 * built from the guest image and named by their name (`minimal`); every other
 * template by its UUID (directory `teams/{team}/{uuid}` on the agent).
 */
export function agentTemplateId(t: Template): string {
  return t.teamId === PLATFORM_TEAM_ID && t.type === "image" ? t.name : t.id;
}

/**
 * Sandboxes of the caller's team: placement on a host, lifecycle through the
 * host's agent, and the database as the source of truth. Another team's
 * sandbox is always `not_found`.
 */
export class SandboxesService {
  constructor(
    private readonly deps: {
      db: Database;
      pool: HostClientPool;
      scheduler: Scheduler;
      audit: AuditLogger;
      log: Logger;
      now?: () => Date;
    },
  ) {}

  private readonly leaveListeners: ((sandboxId: string) => void | Promise<void>)[] = [];

  /**
   * Registers a listener run after a sandbox stops running here (paused or destroyed),
   * e.g. so the port proxy drops its cached route at once. Its failures are logged only.
   */
  onStoppedRunning(listener: (sandboxId: string) => void | Promise<void>): void {
    this.leaveListeners.push(listener);
  }

  private async notifyStoppedRunning(sandboxId: string): Promise<void> {
    for (const listener of this.leaveListeners) {
      try {
        await listener(sandboxId);
      } catch (err) {
        this.deps.log.warn({ err, sandboxId }, "sandbox state listener failed");
      }
    }
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Places a new sandbox on a host and starts it there; answers the row and the envd access token. */
  async create(
    auth: AuthContext,
    input: CreateSandboxInput,
  ): Promise<{ sandbox: Sandbox; envdAccessToken: string }> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const name = assertSafeName(input.template ?? "minimal", "template");
    const template = await findTemplateByName(this.deps.db, team.id, name);
    if (!template) throw errors.notFound(`template ${name} not found`);
    // A snapshot's vCPUs and memory are baked into its RAM image; requests cannot change them.
    const baked = template.type === "snapshot";
    const vcpus = baked
      ? template.vcpus
      : checkRange(input.vcpus ?? template.vcpus, sandboxLimits.vcpus, "vcpus");
    const memoryMb = baked
      ? template.memoryMb
      : checkRange(input.memoryMb ?? template.memoryMb, sandboxLimits.memoryMb, "memory_mb");
    const diskSizeMb = checkRange(
      input.diskSizeMb ?? DEFAULT_DISK_MB,
      sandboxLimits.diskSizeMb,
      "disk_size_mb",
    );
    const timeoutSec = checkRange(
      input.timeoutSec ?? DEFAULT_TIMEOUT_SEC,
      sandboxLimits.timeoutSec,
      "timeout_sec",
    );

    const host = await this.pickHost(team.id, { vcpus, memoryMb }, template);
    const id = randomUUID();
    const envdAccessToken = randomBytes(24).toString("base64url");
    const metadata = input.metadata ?? {};
    await createSandboxRow(this.deps.db, {
      id,
      teamId: team.id,
      hostId: host.id,
      template: template.name,
      templateId: template.id,
      vcpus,
      memoryMb,
      diskSizeMb,
      timeoutSec,
      metadata,
      envdAccessToken,
    });
    const actor = actorOf(auth);
    try {
      await this.agent(host).createSandbox({
        sandboxId: formatId("sandbox", id),
        teamId: team.id,
        templateId: agentTemplateId(template),
        templateTeamId: template.teamId,
        templateName: template.name,
        vcpus,
        memoryMb,
        diskSizeMb,
        timeoutSec,
        envs: input.envs ?? {},
        metadata,
        envdAccessToken,
      });
    } catch (err) {
      const mapped = agentError(err, "create the sandbox");
      await updateSandbox(this.deps.db, id, { state: "error" }, this.now());
      await this.deps.audit.sandboxAction(actor, team.id, id, "create", {
        status: "error",
        metadata: { template: template.name, error: mapped.message },
      });
      throw mapped;
    }
    const now = this.now();
    const row = await updateSandbox(
      this.deps.db,
      id,
      { state: "running", startedAt: now, lastActiveAt: now },
      now,
    );
    if (!row) throw errors.internal("sandbox row vanished during create");
    await this.deps.audit.sandboxAction(actor, team.id, id, "create", {
      metadata: { template: template.name, host_id: formatId("host", host.id) },
    });
    return { sandbox: row, envdAccessToken };
  }

  private async pickHost(
    teamId: string,
    request: { vcpus: number; memoryMb: number },
    template?: Template,
  ): Promise<Host> {
    let hosts = await listSchedulableHosts(this.deps.db, teamId);
    // A template captured from a sandbox exists only on the disk of the host that captured it.
    if (template?.hostId) {
      hosts = hosts.filter((h) => h.id === template.hostId);
      if (hosts.length === 0) {
        throw errors.unavailable(`the host holding template ${template.name} is not online`);
      }
    }
    const load = await countActiveSandboxesByHost(
      this.deps.db,
      hosts.map((h) => h.id),
    );
    const chosen = this.deps.scheduler.pick(
      hosts.map((h) => {
        const l = load.get(h.id);
        return {
          id: h.id,
          cpuCount: h.cpuCount,
          memoryMb: h.memoryMb,
          sandboxes: l?.count ?? 0,
          vcpusReserved: l?.vcpus ?? 0,
          memoryMbReserved: l?.memoryMb ?? 0,
        };
      }),
      request,
    );
    const host = hosts.find((h) => h.id === chosen);
    if (!host) throw errors.internal("scheduler chose an unknown host");
    return host;
  }

  private agent(host: Host): AgentClient {
    return this.deps.pool.get(host);
  }

  /** One page of the team's sandboxes, newest first; `nextCursor` when there may be more. */
  async list(
    auth: AuthContext,
    q: ListSandboxesInput,
  ): Promise<{ sandboxes: Sandbox[]; nextCursor: string | null }> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    if (q.cursor && !(await getSandbox(this.deps.db, team.id, q.cursor))) {
      throw errors.invalidArgument("cursor does not name a sandbox of this team");
    }
    const rows = await listSandboxes(this.deps.db, {
      teamId: team.id,
      ...(q.states ? { states: q.states } : {}),
      ...(q.metadata ? { metadata: q.metadata } : {}),
      ...(q.cursor ? { afterId: q.cursor } : {}),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { sandboxes: page, nextCursor: rows.length > q.limit && last ? last.id : null };
  }

  /** One sandbox of the caller's team. */
  async get(auth: AuthContext, id: string): Promise<Sandbox> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const row = await getSandbox(this.deps.db, team.id, id);
    if (!row) throw errors.notFound("sandbox not found");
    return row;
  }

  private async hostOf(row: Sandbox): Promise<Host> {
    const host = row.hostId ? await getHost(this.deps.db, row.hostId) : undefined;
    if (!host) throw errors.unavailable("the host of this sandbox is gone");
    if (host.status !== "online") throw errors.unavailable(`the host of this sandbox is ${host.status}`);
    return host;
  }

  private requireState(row: Sandbox, allowed: SandboxState[], action: string): void {
    if (!allowed.includes(row.state)) {
      throw errors.failedPrecondition(`cannot ${action} a sandbox that is ${row.state}`);
    }
  }

  /**
   * A running sandbox of the caller's team with its host's agent client (for
   * guest operations: files, processes); marks it active.
   */
  async running(
    auth: AuthContext,
    id: string,
    action: string,
  ): Promise<{ sandbox: Sandbox; agent: AgentClient; agentId: string }> {
    const row = await this.get(auth, id);
    this.requireState(row, ["running"], action);
    const host = await this.hostOf(row);
    await this.touch(row.id);
    return { sandbox: row, agent: this.agent(host), agentId: formatId("sandbox", row.id) };
  }

  /** Destroys a sandbox on its host and marks it stopped (idempotent for stopped sandboxes). */
  async destroy(auth: AuthContext, id: string): Promise<void> {
    const row = await this.get(auth, id);
    await this.destroyRow(row, actorOf(auth));
  }

  private async destroyRow(row: Sandbox, actor: Actor): Promise<void> {
    if (!LIVE.includes(row.state)) return;
    const host = row.hostId ? await getHost(this.deps.db, row.hostId) : undefined;
    if (host) {
      if (row.state === "running" && host.status === "online") {
        await flushSandboxMetrics(this.deps.db, this.deps.log, this.agent(host), row);
      }
      try {
        await this.agent(host).destroySandbox({ sandboxId: formatId("sandbox", row.id) });
      } catch (err) {
        const mapped = agentError(err, "destroy the sandbox");
        // The agent has no trace of it: nothing left to free.
        if (mapped.code !== "not_found") throw mapped;
      }
    }
    await updateSandbox(this.deps.db, row.id, { state: "stopped" }, this.now());
    await this.notifyStoppedRunning(row.id);
    await this.deps.audit.sandboxAction(actor, row.teamId, row.id, "destroy", { status: "warning" });
  }

  /** Runs a command to completion; without `args`, `cmd` is a shell line for `/bin/bash -l -c`. */
  async exec(auth: AuthContext, id: string, input: ExecInput): Promise<ExecOutput> {
    const row = await this.get(auth, id);
    this.requireState(row, ["running"], "run commands in");
    const timeoutSec = checkRange(
      input.timeoutSec ?? sandboxLimits.execTimeoutSec.default,
      sandboxLimits.execTimeoutSec,
      "timeout_sec",
    );
    const host = await this.hostOf(row);
    const command =
      input.args === undefined
        ? { cmd: "/bin/bash", args: ["-l", "-c", input.cmd] }
        : { cmd: input.cmd, args: input.args };
    const res = await callAgent("run the command", () =>
      this.agent(host).exec(
        {
          sandboxId: formatId("sandbox", row.id),
          command: { ...command, envs: input.envs ?? {}, cwd: input.cwd ?? "", user: input.user ?? "" },
          timeoutSec,
          background: input.background ?? false,
          tag: input.tag ?? "",
        },
        { timeoutMs: (timeoutSec + 30) * 1000 },
      ),
    );
    await this.touch(row.id);
    const decoder = new TextDecoder();
    if (res.exitCode === undefined && !res.timedOut && !input.background && res.error) {
      throw errors.invalidArgument(`command failed to start: ${res.error}`);
    }
    return {
      pid: res.pid,
      exitCode: res.exitCode ?? null,
      stdout: decoder.decode(res.stdout),
      stderr: decoder.decode(res.stderr),
      timedOut: res.timedOut,
    };
  }

  /** Pauses a running sandbox (RAM and disk to disk on its host; no RAM held). */
  async pause(auth: AuthContext, id: string): Promise<Sandbox> {
    const row = await this.get(auth, id);
    this.requireState(row, ["running"], "pause");
    const host = await this.hostOf(row);
    await flushSandboxMetrics(this.deps.db, this.deps.log, this.agent(host), row);
    await callAgent("pause the sandbox", () =>
      this.agent(host).pauseSandbox({ sandboxId: formatId("sandbox", row.id) }),
    );
    const updated = await transitionSandbox(this.deps.db, row.id, ["running"], "paused", this.now());
    await this.notifyStoppedRunning(row.id);
    await this.deps.audit.sandboxAction(actorOf(auth), row.teamId, row.id, "pause");
    return updated ?? (await this.get(auth, id));
  }

  /** Resumes a paused sandbox on its host. */
  async resume(auth: AuthContext, id: string): Promise<Sandbox> {
    const row = await this.settleAutoPause(await this.get(auth, id));
    this.requireState(row, ["paused"], "resume");
    const host = await this.hostOf(row);
    await callAgent("resume the sandbox", () =>
      this.agent(host).resumeSandbox({ sandboxId: formatId("sandbox", row.id), timeoutSec: row.timeoutSec }),
    );
    const now = this.now();
    const updated = await transitionSandbox(this.deps.db, row.id, ["paused"], "running", now);
    await updateSandbox(this.deps.db, row.id, { lastActiveAt: now }, now);
    await this.deps.audit.sandboxAction(actorOf(auth), row.teamId, row.id, "resume");
    return { ...(updated ?? row), state: "running", lastActiveAt: now };
  }

  /**
   * A sandbox ready for envd traffic and its envd access token (what an SDK
   * needs to reach envd through the port proxy): resumes it first when paused.
   */
  async connect(
    auth: AuthContext,
    id: string,
  ): Promise<{ sandbox: Sandbox; envdAccessToken: string | null }> {
    let row = await this.settleAutoPause(await this.get(auth, id));
    // A destroyed sandbox is gone for good, as in E2B (its row stays for the audit trail).
    if (row.state === "stopped") throw errors.notFound("sandbox not found (it was killed)");
    if (row.state === "paused") row = await this.resume(auth, id);
    else this.requireState(row, ["running"], "connect to");
    return { sandbox: row, envdAccessToken: row.envdAccessToken };
  }

  /**
   * Sets the inactivity timeout (seconds, 0 = never) of a running or paused
   * sandbox. A running one gets it on its VM at once: the host agent replaces
   * the timeout and restarts the countdown in one step (so it auto-pauses
   * `timeoutSec` after its last activity from now on), then the database
   * follows. A paused one changes in the database only; resume hands it over.
   */
  async setTimeout(auth: AuthContext, id: string, timeoutSec: number): Promise<Sandbox> {
    const row = await this.get(auth, id);
    this.requireState(row, ["running", "paused"], "set the timeout of");
    return this.applyTimeout(row, checkRange(timeoutSec, sandboxLimits.timeoutSec, "timeout_sec"));
  }

  /**
   * Keeps a running sandbox alive for at least `seconds` from now (E2B's
   * refresh): restarts its countdown, raising a shorter timeout to `seconds`
   * (never lowering one, and 0 = never stays never).
   */
  async keepAlive(auth: AuthContext, id: string, seconds: number): Promise<Sandbox> {
    const row = await this.get(auth, id);
    this.requireState(row, ["running"], "refresh");
    const wanted = checkRange(seconds, sandboxLimits.timeoutSec, "duration");
    const enough = row.timeoutSec === 0 || row.timeoutSec >= wanted;
    return this.applyTimeout(row, enough ? undefined : wanted);
  }

  /** Marks the sandbox active: resets the agent's inactivity timer and `last_active_at`. */
  async ping(auth: AuthContext, id: string): Promise<Sandbox> {
    const row = await this.get(auth, id);
    this.requireState(row, ["running"], "ping");
    return this.applyTimeout(row, undefined);
  }

  /** Pings a running sandbox's agent (with a new timeout when given), then updates the row. */
  private async applyTimeout(row: Sandbox, timeoutSec: number | undefined): Promise<Sandbox> {
    if (row.state === "running") {
      const host = await this.hostOf(row);
      const sandboxId = formatId("sandbox", row.id);
      const what = timeoutSec === undefined ? "ping the sandbox" : "set the timeout of the sandbox";
      const res = await callAgent(what, () => this.agent(host).pingSandbox({ sandboxId, timeoutSec }));
      // An agent from before PingSandbox took a timeout answers without the sandbox: it ignored the value.
      if (timeoutSec !== undefined && res.sandbox?.timeoutSec !== timeoutSec) {
        throw errors.failedPrecondition(
          "the sandbox's host agent cannot change the timeout of a running sandbox (update the agent, or pause the sandbox first)",
        );
      }
    }
    const now = this.now();
    const set = {
      ...(timeoutSec === undefined ? {} : { timeoutSec }),
      ...(row.state === "running" ? { lastActiveAt: now } : {}),
    };
    return (await updateSandbox(this.deps.db, row.id, set, now)) ?? row;
  }

  /**
   * The row of a `running` sandbox its agent has auto-paused since the host monitor
   * last looked, marked `paused` now: resume and connect must not wait up to a
   * monitor interval (and answer "not paused") after an inactivity timeout.
   */
  private async settleAutoPause(row: Sandbox): Promise<Sandbox> {
    if (row.state !== "running" || row.timeoutSec === 0) return row;
    const host = await this.hostOf(row);
    const listed = await callAgent("list sandboxes", () => this.agent(host).listSandboxes({}));
    if (!listed.autoPausedSandboxIds.includes(formatId("sandbox", row.id))) return row;
    const updated = await transitionSandbox(this.deps.db, row.id, ["running"], "paused", this.now());
    if (!updated) return (await getSandbox(this.deps.db, row.teamId, row.id)) ?? row;
    await this.notifyStoppedRunning(row.id);
    await this.deps.audit.sandboxAction(systemActor, row.teamId, row.id, "reconcile_paused", {
      status: "info",
      metadata: { from: "running", host_id: formatId("host", host.id), reason: "inactivity timeout" },
    });
    return updated;
  }

  private touch(id: string) {
    const now = this.now();
    return updateSandbox(this.deps.db, id, { lastActiveAt: now }, now);
  }

  /** Team deletion hook: destroys every live sandbox of the team (the agent being down stops the deletion). */
  async destroyAllOfTeam(teamId: string): Promise<void> {
    for (const row of await listLiveSandboxesOfTeam(this.deps.db, teamId)) {
      await this.destroyRow(row, systemActor);
    }
  }
}
