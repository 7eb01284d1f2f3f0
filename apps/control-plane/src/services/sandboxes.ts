import { randomBytes, randomUUID } from "node:crypto";
import { assertSafeName, checkEgressPolicy, type EgressPolicy, errors, type Logger } from "@wrenn/common";
import {
  countSandboxes,
  createSandboxRow,
  type Database,
  findTemplateByName,
  getHost,
  getSandbox,
  type Host,
  listLiveSandboxesOfTeam,
  listSandboxes,
  PLATFORM_TEAM_ID,
  type Sandbox,
  type SandboxState,
  setSandboxEgress,
  type Template,
  transitionSandbox,
  updateSandbox,
} from "@wrenn/db";
import { EnvdTokenVault } from "../crypto/envd-tokens.ts";
import { placeVm } from "../hosts/placement.ts";
import { type AgentClient, agentError, callAgent, type HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import { formatId } from "../ids.ts";
import { currentTeamAccess } from "./access.ts";
import { type Actor, actorOf, systemActor } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";
import { flushSandboxMetrics } from "./metric-points.ts";
import { type ExecInput, type ExecOutput, runCommand } from "./sandbox-exec.ts";
import { checkRange, resolveSandboxSpec, type SandboxSpec, sandboxLimits } from "./sandbox-spec.ts";
import { requireSandboxCapacity } from "./team-caps.ts";

/** Filters and page of a listing. */
export interface ListSandboxesInput {
  states?: SandboxState[] | undefined;
  metadata?: Record<string, string> | undefined;
  template?: string | undefined;
  templateId?: string | undefined;
  startedAfter?: Date | undefined;
  /** Default newest first. */
  order?: "asc" | "desc" | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** A listing's filters as the queries take them: the team's, the ones given, none left undefined. */
function listingFilter(teamId: string, q: Omit<ListSandboxesInput, "order" | "cursor" | "limit">) {
  return {
    teamId,
    ...(q.states ? { states: q.states } : {}),
    ...(q.metadata ? { metadata: q.metadata } : {}),
    ...(q.template ? { template: q.template } : {}),
    ...(q.templateId ? { templateId: q.templateId } : {}),
    ...(q.startedAfter ? { startedAfter: q.startedAfter } : {}),
  };
}

// States in which the sandbox holds something on its host.
const LIVE: SandboxState[] = ["pending", "starting", "running", "paused", "missing"];

/**
 * The id under which the agent knows a template: platform image templates are
 * built from the guest image and named by their name (`minimal`); every other
 * template by its UUID (directory `teams/{team}/{uuid}` on the agent).
 */
export function agentTemplateId(t: Template): string {
  return t.teamId === PLATFORM_TEAM_ID && t.type === "image" ? t.name : t.id;
}

// Without a configured encryption key, tokens are stored as they are.
const plaintextTokens = new EnvdTokenVault(undefined);

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
      /** Encrypts envd access tokens at rest; default: stored as they are (no key configured). */
      envdTokens?: EnvdTokenVault;
    },
  ) {}

  private get envdTokens(): EnvdTokenVault {
    return this.deps.envdTokens ?? plaintextTokens;
  }

  /** The envd access token of a sandbox row (stored encrypted), or null when it has none. */
  envdAccessToken(row: Sandbox): string | null {
    return this.envdTokens.open(row.id, row.envdAccessToken);
  }

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

  /** Runs a clean-up step whose failure must not hide the error being reported; logs it instead. */
  private async bestEffort(sandboxId: string, what: string, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.deps.log.error({ err, sandboxId }, `${what} failed`);
    }
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Places a new sandbox on a host and starts it there; answers the row and the envd access token. */
  async create(auth: AuthContext, spec: SandboxSpec): Promise<{ sandbox: Sandbox; envdAccessToken: string }> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const name = assertSafeName(spec.template ?? "minimal", "template");
    const template = await findTemplateByName(this.deps.db, team.id, name);
    if (!template) throw errors.notFound(`template ${name} not found`);
    const resolved = resolveSandboxSpec(spec, template);

    await requireSandboxCapacity(this.deps.db, team.id, resolved);
    const host = await this.pickHost(team.id, resolved, template);
    const id = randomUUID();
    const envdAccessToken = randomBytes(24).toString("base64url");
    // The environment goes to the guest only; the row keeps everything else.
    const { envs: _guestOnly, ...recorded } = resolved;
    await createSandboxRow(this.deps.db, {
      id,
      teamId: team.id,
      hostId: host.id,
      template: template.name,
      templateId: template.id,
      ...recorded,
      envdAccessToken: this.envdTokens.seal(id, envdAccessToken),
    });
    const actor = actorOf(auth);
    try {
      await this.agent(host).createSandbox({
        sandboxId: formatId("sandbox", id),
        teamId: team.id,
        templateId: agentTemplateId(template),
        templateTeamId: template.teamId,
        templateName: template.name,
        ...resolved,
        envdAccessToken,
        // A built template's last USER / WORKDIR become envd's defaults in its sandboxes.
        defaultUser: template.defaultUser ?? undefined,
        defaultWorkdir: template.defaultWorkdir ?? undefined,
      });
    } catch (err) {
      const mapped = agentError(err, "create the sandbox");
      // The caller gets the agent's error whatever happens to the bookkeeping below.
      await this.bestEffort(id, "recording a failed create", async () => {
        await updateSandbox(this.deps.db, id, { state: "error" }, this.now());
        await this.deps.audit.sandboxAction(actor, team.id, id, "create", {
          status: "error",
          metadata: { template: template.name, error: mapped.message },
        });
      });
      throw mapped;
    }
    const now = this.now();
    let row: Sandbox | undefined;
    try {
      row = await updateSandbox(
        this.deps.db,
        id,
        { state: "running", startedAt: now, lastActiveAt: now },
        now,
      );
      if (!row) throw errors.internal("sandbox row vanished during create");
    } catch (err) {
      // The VM runs but nobody could learn of it: free it now rather than at the next reconcile.
      await this.bestEffort(id, "destroying a sandbox whose create could not be recorded", () =>
        this.agent(host).destroySandbox({ sandboxId: formatId("sandbox", id) }),
      );
      await this.bestEffort(id, "recording a failed create", () =>
        updateSandbox(this.deps.db, id, { state: "error" }, this.now()),
      );
      throw err;
    }
    await this.deps.audit.sandboxAction(actor, team.id, id, "create", {
      metadata: { template: template.name, host_id: formatId("host", host.id) },
    });
    return { sandbox: row, envdAccessToken };
  }

  private pickHost(
    teamId: string,
    request: { vcpus: number; memoryMb: number },
    template?: Template,
  ): Promise<Host> {
    // A template captured from a sandbox exists only on the disk of the host that captured it.
    const pinned = template?.hostId
      ? { hostId: template.hostId, label: `template ${template.name}` }
      : undefined;
    // A host with a warm VM of the template answers the create fastest.
    const warm = template
      ? { templateId: agentTemplateId(template), templateTeamId: template.teamId }
      : undefined;
    return placeVm(this.deps, teamId, request, { pinned, ...(warm ? { warm } : {}) });
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
      ...listingFilter(team.id, q),
      ...(q.order ? { order: q.order } : {}),
      ...(q.cursor ? { afterId: q.cursor } : {}),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { sandboxes: page, nextCursor: rows.length > q.limit && last ? last.id : null };
  }

  /** How many of the team's sandboxes match a listing's filters, all pages together (no cursor, no limit). */
  async count(auth: AuthContext, q: Omit<ListSandboxesInput, "order" | "cursor" | "limit">): Promise<number> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    return countSandboxes(this.deps.db, listingFilter(team.id, q));
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
    // A sandbox in `error` is destroyable too: a failed create may have left a VM behind.
    if (!LIVE.includes(row.state) && row.state !== "error") return;
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
        if (mapped.code !== "not_found") {
          // A failed sandbox never served anyone: it is gone for the user even when its agent is
          // unreachable (reconcile frees whatever the agent still holds once it answers).
          if (row.state !== "error") throw mapped;
          this.deps.log.warn(
            { err: mapped, sandboxId: row.id },
            "destroying a failed sandbox on its agent failed",
          );
        }
      }
    }
    await updateSandbox(this.deps.db, row.id, { state: "stopped" }, this.now());
    await this.notifyStoppedRunning(row.id);
    await this.deps.audit.sandboxAction(actor, row.teamId, row.id, "destroy", { status: "warning" });
  }

  /** Runs a command to completion; without `args`, `cmd` is a shell line for `/bin/bash -l -c`. */
  exec(auth: AuthContext, id: string, input: ExecInput): Promise<ExecOutput> {
    return runCommand(this, auth, id, input);
  }

  /** Pauses a running sandbox (RAM and disk to disk on its host; no RAM held). */
  async pause(auth: AuthContext, id: string): Promise<Sandbox> {
    const row = await this.get(auth, id);
    return (await this.pauseRow(row, actorOf(auth))) ?? (await this.get(auth, id));
  }

  /**
   * Ends a running sandbox whose E2B end time passed (the expiry pass, acting as the
   * system): pauses it when its lifecycle says `pause`, destroys it otherwise.
   */
  async expire(row: Sandbox): Promise<void> {
    if (row.onTimeout === "pause") await this.pauseRow(row, systemActor);
    else await this.destroyRow(row, systemActor);
  }

  private async pauseRow(row: Sandbox, actor: Actor): Promise<Sandbox | undefined> {
    this.requireState(row, ["running"], "pause");
    const host = await this.hostOf(row);
    await flushSandboxMetrics(this.deps.db, this.deps.log, this.agent(host), row);
    await callAgent("pause the sandbox", () =>
      this.agent(host).pauseSandbox({ sandboxId: formatId("sandbox", row.id) }),
    );
    const updated = await transitionSandbox(this.deps.db, row.id, ["running"], "paused", this.now());
    await this.notifyStoppedRunning(row.id);
    await this.deps.audit.sandboxAction(actor, row.teamId, row.id, "pause");
    return updated;
  }

  /** Resumes a paused sandbox on its host. */
  async resume(auth: AuthContext, id: string): Promise<Sandbox> {
    return this.resumeRow(await this.get(auth, id), actorOf(auth));
  }

  /**
   * E2B's auto-resume: resumes a paused sandbox of `teamId` created with `autoResume`, as the
   * system (proxied traffic has no caller to act as; the proxy authorized it). A sandbox without
   * auto-resume is `not_found` here, one that is not paused `failed_precondition`.
   */
  async resumeForTraffic(teamId: string, id: string): Promise<Sandbox> {
    const row = await getSandbox(this.deps.db, teamId, id);
    if (!row?.autoResume) throw errors.notFound("sandbox not found");
    return this.resumeRow(row, systemActor);
  }

  private async resumeRow(row: Sandbox, actor: Actor): Promise<Sandbox> {
    this.requireState(row, ["paused"], "resume");
    // A resumed sandbox holds vCPUs and memory again: the team's caps apply as to a create.
    await requireSandboxCapacity(this.deps.db, row.teamId, row);
    const host = await this.hostOf(row);
    await callAgent("resume the sandbox", () =>
      this.agent(host).resumeSandbox({ sandboxId: formatId("sandbox", row.id), timeoutSec: row.timeoutSec }),
    );
    const now = this.now();
    const updated = await transitionSandbox(this.deps.db, row.id, ["paused"], "running", now);
    await updateSandbox(this.deps.db, row.id, { lastActiveAt: now }, now);
    await this.deps.audit.sandboxAction(actor, row.teamId, row.id, "resume");
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
    let row = await this.get(auth, id);
    // A destroyed sandbox is gone for good, as in E2B (its row stays for the audit trail).
    if (row.state === "stopped") throw errors.notFound("sandbox not found (it was killed)");
    if (row.state === "paused") row = await this.resume(auth, id);
    else this.requireState(row, ["running"], "connect to");
    return { sandbox: row, envdAccessToken: this.envdAccessToken(row) };
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

  /** Records activity on a sandbox now (its `last_active_at`). */
  touch(id: string): Promise<unknown> {
    const now = this.now();
    return updateSandbox(this.deps.db, id, { lastActiveAt: now }, now);
  }

  /**
   * Replaces the egress policy of a running sandbox (E2B's update-network): its host agent
   * enforces it at once, then the row follows (a paused sandbox is `failed_precondition`, as in E2B).
   */
  async updateEgress(auth: AuthContext, id: string, policy: EgressPolicy): Promise<Sandbox> {
    const egress = checkEgressPolicy(policy);
    const { sandbox, agent, agentId } = await this.running(auth, id, "change the network of");
    await callAgent("change the sandbox's network", () =>
      agent.updateSandboxNetwork({ sandboxId: agentId, egress }),
    );
    await this.deps.audit.sandboxAction(actorOf(auth), sandbox.teamId, sandbox.id, "update_network", {
      metadata: { ...egress },
    });
    return (await setSandboxEgress(this.deps.db, sandbox.teamId, sandbox.id, egress, this.now())) ?? sandbox;
  }

  /** Team deletion hook: destroys every live sandbox of the team (the agent being down stops the deletion). */
  async destroyAllOfTeam(teamId: string): Promise<void> {
    for (const row of await listLiveSandboxesOfTeam(this.deps.db, teamId)) {
      await this.destroyRow(row, systemActor);
    }
  }
}
