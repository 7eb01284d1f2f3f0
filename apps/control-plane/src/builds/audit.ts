import type { Logger } from "@wrenn/common";
import { type AuditStatus, type Database, insertAuditLog } from "@wrenn/db";
import { formatId } from "../ids.ts";
import type { Actor } from "../services/actor.ts";
import type { AuditSink } from "../services/audit.ts";

/** Audit actions of a build's lifecycle (the notification layer keys on these names). */
export const buildAuditActions = [
  "build.requested",
  "build.started",
  "build.succeeded",
  "build.failed",
  "build.cancelled",
] as const;

/** One of {@link buildAuditActions}. */
export type BuildAuditAction = (typeof buildAuditActions)[number];

/**
 * Audit entries of template builds (resource type `build`, team scope). Like
 * every audit write, a failure is logged and never fails the build.
 */
export class BuildAudit {
  /** `events` turns the outcomes into lifecycle events (notification channels). */
  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly events?: AuditSink,
  ) {}

  /** Records `action` on build `buildId` of `teamId`. */
  async record(
    actor: Actor,
    teamId: string,
    buildId: string,
    action: BuildAuditAction,
    opts: { status?: AuditStatus; metadata?: Record<string, unknown> } = {},
  ): Promise<void> {
    try {
      await insertAuditLog(this.db, {
        teamId,
        actorType: actor.type,
        actorId: actor.id,
        actorName: actor.name,
        resourceType: "build",
        resourceId: formatId("build", buildId),
        action,
        scope: "team",
        status: opts.status ?? "success",
        metadata: opts.metadata ?? {},
      });
    } catch (err) {
      this.log.error({ err, action }, "audit log write failed");
    }
    await this.events?.onAudit({
      teamId,
      resourceType: "build",
      resourceId: formatId("build", buildId),
      action,
      status: opts.status ?? "success",
      actorName: actor.name,
      metadata: opts.metadata ?? {},
    });
  }
}
