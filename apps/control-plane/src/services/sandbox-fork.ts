import { randomBytes, randomUUID } from "node:crypto";
import { errors, type Logger } from "@wrenn/common";
import { createSandboxRow, type Database, getSandbox, type Sandbox, updateSandbox } from "@wrenn/db";
import type { EnvdTokenVault } from "../crypto/envd-tokens.ts";
import { placeVm } from "../hosts/placement.ts";
import { agentError, type HostClientPool } from "../hosts/pool.ts";
import type { Scheduler } from "../hosts/scheduler.ts";
import { formatId } from "../ids.ts";
import { currentTeamAccess } from "./access.ts";
import { actorOf } from "./actor.ts";
import type { AuditLogger } from "./audit.ts";
import type { AuthContext } from "./auth-context.ts";
import { checkRange, sandboxLimits } from "./sandbox-spec.ts";
import { requireSandboxCapacity } from "./team-caps.ts";

/** How many sandboxes one fork call makes. */
export const forkLimits = { count: { min: 1, max: 8, default: 1 } } as const;

/** What a fork call may set on the new sandboxes; the rest is the source's. */
export interface ForkInput {
  count?: number | undefined;
  /** Inactivity timeout of the forks (0 = never); the source's when absent. */
  timeoutSec?: number | undefined;
  /** Metadata of the forks; the source's when absent. */
  metadata?: Record<string, string> | undefined;
}

/** One new sandbox of a fork and its envd access token. */
export interface ForkedSandbox {
  sandbox: Sandbox;
  envdAccessToken: string;
}

/**
 * Forks of a running sandbox: N new sandboxes of the caller's team on the source's host that
 * continue from the source's memory, processes and files while the source keeps running.
 * Capacity counts as N creates of the source's size (team caps and the host's room).
 */
export class SandboxForkService {
  constructor(
    private readonly deps: {
      db: Database;
      pool: HostClientPool;
      scheduler: Scheduler;
      audit: AuditLogger;
      log: Logger;
      envdTokens: EnvdTokenVault;
      now?: () => Date;
    },
  ) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Forks sandbox `id` of the caller's team; all or nothing. */
  async fork(auth: AuthContext, id: string, input: ForkInput): Promise<ForkedSandbox[]> {
    const { db, audit } = this.deps;
    const { team } = await currentTeamAccess(db, auth);
    const count = checkRange(input.count ?? forkLimits.count.default, forkLimits.count, "count");
    const timeoutSec =
      input.timeoutSec === undefined
        ? undefined
        : checkRange(input.timeoutSec, sandboxLimits.timeoutSec, "timeout_sec");
    const source = await getSandbox(db, team.id, id);
    if (!source) throw errors.notFound("sandbox not found");
    if (source.state !== "running") {
      throw errors.failedPrecondition(
        `cannot fork a sandbox that is ${source.state}; only running sandboxes fork`,
      );
    }
    if (!source.hostId) throw errors.unavailable("the host of this sandbox is gone");
    const templateId = source.templateId;
    if (!templateId)
      throw errors.failedPrecondition("the template of this sandbox is gone; it cannot be forked");
    const size = { vcpus: source.vcpus * count, memoryMb: source.memoryMb * count };
    await requireSandboxCapacity(db, team.id, { ...size, count });
    // The capture lives on the source's host: forks start there or nowhere.
    const host = await placeVm(this.deps, team.id, size, {
      pinned: { hostId: source.hostId, label: `sandbox ${formatId("sandbox", source.id)}` },
    });

    const forks: { id: string; token: string }[] = [];
    for (let i = 0; i < count; i++) {
      const forkId = randomUUID();
      const token = randomBytes(24).toString("base64url");
      await createSandboxRow(db, {
        id: forkId,
        teamId: team.id,
        hostId: host.id,
        template: source.template,
        templateId,
        vcpus: source.vcpus,
        memoryMb: source.memoryMb,
        diskSizeMb: source.diskSizeMb,
        timeoutSec: timeoutSec ?? source.timeoutSec,
        metadata: input.metadata ?? source.metadata,
        // The agent gives forks the source's egress policy; the rows say so too.
        egress: { allowInternet: source.allowInternet, allowOut: source.allowOut, denyOut: source.denyOut },
        envdAccessToken: this.deps.envdTokens.seal(forkId, token),
      });
      forks.push({ id: forkId, token });
    }
    const actor = actorOf(auth);
    const forkIds = forks.map((f) => formatId("sandbox", f.id));
    try {
      await this.deps.pool.get(host).forkSandbox(
        {
          sandboxId: formatId("sandbox", source.id),
          forks: forks.map((f) => ({
            sandboxId: formatId("sandbox", f.id),
            envdAccessToken: f.token,
            metadata: input.metadata ?? {},
            timeoutSec,
          })),
        },
        // Capture + restores of up to `max` VMs: far longer than one create under load.
        { timeoutMs: 300_000 },
      );
    } catch (err) {
      const mapped = agentError(err, "fork the sandbox");
      for (const f of forks) {
        await updateSandbox(db, f.id, { state: "error" }, this.now()).catch((e) =>
          this.deps.log.error({ err: e, sandboxId: f.id }, "recording a failed fork failed"),
        );
      }
      await audit.sandboxAction(actor, team.id, source.id, "fork", {
        status: "error",
        metadata: { forks: forkIds, error: mapped.message },
      });
      throw mapped;
    }
    const now = this.now();
    const result: ForkedSandbox[] = [];
    for (const f of forks) {
      const row = await updateSandbox(db, f.id, { state: "running", startedAt: now, lastActiveAt: now }, now);
      if (!row) throw errors.internal("a forked sandbox's row vanished");
      result.push({ sandbox: row, envdAccessToken: f.token });
      await audit.sandboxAction(actor, team.id, f.id, "create", {
        metadata: { template: source.template, forked_from: formatId("sandbox", source.id) },
      });
    }
    await audit.sandboxAction(actor, team.id, source.id, "fork", { metadata: { forks: forkIds, count } });
    return result;
  }
}
