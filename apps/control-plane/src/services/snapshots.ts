import { randomBytes, randomUUID } from "node:crypto";
import { assertSafeName, errors, type Logger } from "@wrenn/common";
import {
  type Database,
  deleteTemplateRow,
  findTemplateByName,
  getHost,
  getOwnTemplate,
  getSandbox,
  type Host,
  insertTemplate,
  isUniqueViolation,
  listAllTemplates,
  listOnlineHosts,
  listOwnTemplates,
  listVisibleTemplates,
  PLATFORM_TEAM_ID,
  type Sandbox,
  type Template,
  type TemplateType,
  templatesCapturedFrom,
  transitionSandbox,
  updateSandbox,
} from "@wrenn/db";
import { callAgent, type HostClientPool } from "../hosts/pool.ts";
import { formatId } from "../ids.ts";
import { currentTeamAccess } from "./access.ts";
import { type Actor, actorOf, systemActor } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";
import { agentTemplateId } from "./sandboxes.ts";

/** What a caller asks for when capturing a template from a sandbox. */
export interface CreateSnapshotInput {
  /** UUID of a running sandbox of the caller's team. */
  sandboxId: string;
  /** Template name (allow-listed); generated when absent. An existing name of the team is overwritten. */
  name?: string | undefined;
  /** `snapshot` (RAM + disk, the sandbox keeps running) or `image` (flattened disk; the sandbox is destroyed). */
  type?: TemplateType | undefined;
}

// Captures run a whole VM checkpoint (minutes under software emulation): far beyond the usual RPC limits.
const DEFAULT_CAPTURE_TIMEOUT_MS = 15 * 60_000;

/** True for the built-in template nobody may delete. */
export function isProtectedTemplate(t: Template): boolean {
  return t.teamId === PLATFORM_TEAM_ID && t.name === "minimal";
}

/**
 * Templates made from sandboxes (`/v1/snapshots`) and their files on the host
 * agents. A template's row exists exactly as long as its files might: files are
 * deleted on every online host before the row goes, and any agent failure
 * keeps the row. Platform templates (the all-zeros team) are visible to every
 * team and deletable only by platform admins; `minimal` by nobody.
 */
export class SnapshotsService {
  constructor(
    private readonly deps: {
      db: Database;
      pool: HostClientPool;
      audit: AuditLogger;
      log: Logger;
      now?: () => Date;
      captureTimeoutMs?: number;
    },
  ) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /**
   * Captures a running sandbox as template `name` of the caller's team. The
   * sandbox is marked `paused` in the database for the duration of the RPC, so
   * the reconciler does not take the stopped guest for a lost one, and put back
   * to `running` afterwards (or on failure). An existing template of the same
   * name is deleted first (its files on every host, then its row).
   */
  async create(auth: AuthContext, input: CreateSnapshotInput): Promise<Template> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const name =
      input.name === undefined
        ? `snap-${randomBytes(4).toString("hex")}`
        : assertSafeName(input.name, "name");
    const type = input.type ?? "snapshot";
    const sandbox = await getSandbox(this.deps.db, team.id, input.sandboxId);
    if (!sandbox) throw errors.notFound("sandbox not found");
    if (sandbox.state !== "running") {
      throw errors.failedPrecondition(`cannot snapshot a sandbox that is ${sandbox.state}`);
    }
    const host = await this.onlineHostOf(sandbox);
    if (team.id !== PLATFORM_TEAM_ID && (await getOwnTemplate(this.deps.db, PLATFORM_TEAM_ID, name))) {
      throw errors.alreadyExists(`name ${name} is taken by a platform template; choose another`);
    }
    const actor = actorOf(auth);
    const old = await getOwnTemplate(this.deps.db, team.id, name);
    if (old) await this.deleteTemplate(old, actor, "overwrite");

    // Checked-and-set in one statement: a concurrent pause or destroy wins and this capture stops.
    if (!(await transitionSandbox(this.deps.db, sandbox.id, ["running"], "paused", this.now()))) {
      throw errors.failedPrecondition("the sandbox changed state while the snapshot started; try again");
    }
    const id = randomUUID();
    let captured: { sizeBytes: number; vcpus: number; memoryMb: number };
    try {
      captured = await this.capture(host, sandbox, { id, teamId: team.id, name, type });
    } catch (err) {
      await transitionSandbox(this.deps.db, sandbox.id, ["paused"], "running", this.now());
      await this.deps.audit.snapshotCreated(
        actor,
        team.id,
        id,
        { name, type, sandbox_id: formatId("sandbox", sandbox.id), error: (err as Error).message },
        "error",
      );
      throw err;
    }
    await this.settleSandbox(sandbox, type, actor);

    let row: Template;
    try {
      row = await insertTemplate(this.deps.db, {
        id,
        teamId: team.id,
        name,
        type,
        vcpus: captured.vcpus,
        memoryMb: captured.memoryMb,
        sizeBytes: captured.sizeBytes,
        hostId: host.id,
      });
    } catch (err) {
      // A concurrent capture of the same name recorded first: ours must not stay on disk unrecorded.
      await callAgent("delete the duplicate template", () =>
        this.deps.pool.get(host).deleteSnapshot({ teamId: team.id, templateId: id }),
      ).catch((e) =>
        this.deps.log.error({ err: e, templateId: id }, "duplicate template files left on host"),
      );
      if (isUniqueViolation(err)) throw errors.alreadyExists(`template ${name} was created concurrently`);
      throw err;
    }
    await this.deps.audit.snapshotCreated(actor, team.id, id, {
      name,
      type,
      sandbox_id: formatId("sandbox", sandbox.id),
      host_id: formatId("host", host.id),
      size_bytes: captured.sizeBytes,
      overwrote: old ? formatId("template", old.id) : null,
    });
    return row;
  }

  private async capture(
    host: Host,
    sandbox: Sandbox,
    t: { id: string; teamId: string; name: string; type: TemplateType },
  ): Promise<{ sizeBytes: number; vcpus: number; memoryMb: number }> {
    const agent = this.deps.pool.get(host);
    const req = {
      sandboxId: formatId("sandbox", sandbox.id),
      teamId: t.teamId,
      templateId: t.id,
      templateName: t.name,
    };
    const options = { timeoutMs: this.deps.captureTimeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS };
    if (t.type === "image") {
      const r = await callAgent("flatten the sandbox's disk", () => agent.flattenRootfs(req, options));
      return { sizeBytes: Number(r.sizeBytes), vcpus: sandbox.vcpus, memoryMb: sandbox.memoryMb };
    }
    const r = await callAgent("snapshot the sandbox", () => agent.createSnapshot(req, options));
    return { sizeBytes: Number(r.sizeBytes), vcpus: r.vcpus, memoryMb: r.memoryMb };
  }

  /** After a capture: a snapshot's source keeps running on the agent; a flattened one was destroyed. */
  private async settleSandbox(sandbox: Sandbox, type: TemplateType, actor: Actor): Promise<void> {
    const now = this.now();
    if (type === "snapshot") {
      await transitionSandbox(this.deps.db, sandbox.id, ["paused"], "running", now);
      await updateSandbox(this.deps.db, sandbox.id, { lastActiveAt: now }, now);
      return;
    }
    await updateSandbox(this.deps.db, sandbox.id, { state: "stopped" }, now);
    await this.deps.audit.sandboxAction(actor, sandbox.teamId, sandbox.id, "destroy", {
      status: "warning",
      metadata: { reason: "flattened into an image template" },
    });
  }

  private async onlineHostOf(sandbox: Sandbox): Promise<Host> {
    const host = sandbox.hostId ? await getHost(this.deps.db, sandbox.hostId) : undefined;
    if (!host) throw errors.unavailable("the host of this sandbox is gone");
    if (host.status !== "online") throw errors.unavailable(`the host of this sandbox is ${host.status}`);
    return host;
  }

  /** The caller's templates and the platform's (platform first), optionally of one type. */
  async list(auth: AuthContext, type?: TemplateType): Promise<Template[]> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    return listVisibleTemplates(this.deps.db, team.id, type);
  }

  /**
   * The snapshots (`snapshot` templates) of the caller's own team, newest first (then by name):
   * the platform's templates are no one's snapshots. `name` keeps the one of that name,
   * `capturedFrom` (a sandbox's wire id) those captured from that sandbox.
   */
  async listOwnSnapshots(
    auth: AuthContext,
    filter: { name?: string | undefined; capturedFrom?: string | undefined } = {},
  ): Promise<Template[]> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    let rows = (await listVisibleTemplates(this.deps.db, team.id, "snapshot")).filter(
      (t) => t.teamId === team.id && (!filter.name || t.name === filter.name),
    );
    if (filter.capturedFrom) {
      const from = new Set(await templatesCapturedFrom(this.deps.db, team.id, filter.capturedFrom));
      rows = rows.filter((t) => from.has(formatId("template", t.id)));
    }
    return rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || a.name.localeCompare(b.name));
  }

  /** Template `name` as the caller's team sees it (its own, else the platform's); `undefined` when none. */
  async find(auth: AuthContext, name: string): Promise<Template | undefined> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    return findTemplateByName(this.deps.db, team.id, name);
  }

  /** Template `name` as the caller's team sees it: its own, else the platform's. */
  async get(auth: AuthContext, name: string): Promise<Template> {
    const { team } = await currentTeamAccess(this.deps.db, auth);
    const safe = assertSafeName(name, "name");
    const t = await findTemplateByName(this.deps.db, team.id, safe);
    if (!t) throw errors.notFound(`template ${safe} not found`);
    return t;
  }

  /**
   * Deletes template `name` of the caller's team (or, for platform admins, a
   * platform template of that name). Permission is decided before any file is
   * touched; an agent failure leaves everything in place.
   */
  async delete(auth: AuthContext, name: string): Promise<void> {
    const t = await this.get(auth, name);
    if (isProtectedTemplate(t)) throw errors.permissionDenied("the minimal template cannot be deleted");
    if (t.teamId === PLATFORM_TEAM_ID && !auth.isAdmin) {
      throw errors.permissionDenied("platform templates can only be deleted by platform admins");
    }
    await this.deleteTemplate(t, actorOf(auth), "delete");
  }

  /**
   * Deletes template `name` of `teamId` so a build can record its result under
   * that name (files on every host first, then the row); nothing when absent.
   */
  async deleteForRebuild(teamId: string, name: string, buildId: string): Promise<void> {
    const old = await getOwnTemplate(this.deps.db, teamId, name);
    if (!old) return;
    if (isProtectedTemplate(old)) throw errors.permissionDenied("the minimal template cannot be replaced");
    await this.deleteTemplate(old, systemActor, `replaced by build ${formatId("build", buildId)}`);
  }

  /** Every template of every team (platform admins; the route checks the role). */
  listAll(): Promise<Template[]> {
    return listAllTemplates(this.deps.db);
  }

  /** Deletes template `name` of `teamId` (default: the platform team) as a platform admin. */
  async adminDelete(auth: AuthContext, name: string, teamId = PLATFORM_TEAM_ID): Promise<void> {
    const safe = assertSafeName(name, "name");
    const t = await getOwnTemplate(this.deps.db, teamId, safe);
    if (!t) throw errors.notFound(`template ${safe} not found`);
    if (isProtectedTemplate(t)) throw errors.permissionDenied("the minimal template cannot be deleted");
    await this.deleteTemplate(t, actorOf(auth), "admin_delete");
  }

  /**
   * Team deletion hook: removes the team's templates from every host, best
   * effort. A template whose files could not be deleted keeps its row, so an
   * admin can retry with `DELETE /v1/admin/templates/{name}?team_id=`.
   */
  async deleteAllOfTeam(teamId: string): Promise<void> {
    for (const t of await listOwnTemplates(this.deps.db, teamId)) {
      try {
        await this.deleteTemplate(t, systemActor, "team_deleted");
      } catch (err) {
        this.deps.log.warn({ err, templateId: t.id, teamId }, "template of a deleted team left in place");
      }
    }
  }

  private async deleteTemplate(t: Template, actor: Actor, reason: string): Promise<void> {
    const hosts = await this.removeFiles(t);
    await deleteTemplateRow(this.deps.db, t.id);
    await this.deps.audit.snapshotDeleted(actor, t.teamId, t.id, { name: t.name, reason, hosts });
  }

  /**
   * Deletes the template's files on every online host (templates may have
   * been copied or rebuilt anywhere); returns how many hosts were asked. The
   * host that captured it must be among them, or its files would outlive the row.
   */
  private async removeFiles(t: Template): Promise<number> {
    const hosts = await listOnlineHosts(this.deps.db);
    if (t.hostId && !hosts.some((h) => h.id === t.hostId)) {
      const home = await getHost(this.deps.db, t.hostId);
      if (home) {
        throw errors.unavailable(
          `the host holding template ${t.name} is ${home.status}; delete it once the host is back online`,
        );
      }
    }
    await Promise.all(
      hosts.map((h) =>
        callAgent(`delete template ${t.name}`, () =>
          this.deps.pool.get(h).deleteSnapshot({ teamId: t.teamId, templateId: agentTemplateId(t) }),
        ),
      ),
    );
    return hosts.length;
  }
}
