import type { Logger } from "@wrenn/common";
import { type AuditScope, type AuditStatus, type Database, insertAuditLog } from "@wrenn/db";
import { formatId } from "../ids.ts";
import { type Actor, systemActor } from "./actor.ts";

/** An audit entry as written, handed to an {@link AuditSink} (ids already in wire form). */
export interface AuditEntry {
  teamId: string | null;
  resourceType: string;
  resourceId: string;
  action: string;
  status: string;
  actorName: string;
  metadata: Record<string, unknown>;
}

/** Receives every audit entry after it is written (the lifecycle event stream); must not throw. */
export interface AuditSink {
  onAudit(entry: AuditEntry): Promise<unknown>;
}

interface Event {
  teamId: string | null;
  resourceType: string;
  resourceId: string;
  action: string;
  scope: AuditScope;
  status?: AuditStatus;
  metadata?: Record<string, unknown>;
}

/**
 * The append-only audit trail. One named method per event so call sites read
 * as what happened; `admin` scope events are visible to team admins and owners
 * only. Writing never fails the action it records: errors are logged.
 */
export class AuditLogger {
  /** `events` turns entries that are lifecycle events into notifications (channels/stream.ts). */
  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly events?: AuditSink,
  ) {}

  private async record(actor: Actor, e: Event): Promise<void> {
    try {
      await insertAuditLog(this.db, {
        teamId: e.teamId,
        actorType: actor.type,
        actorId: actor.id,
        actorName: actor.name,
        resourceType: e.resourceType,
        resourceId: e.resourceId,
        action: e.action,
        scope: e.scope,
        status: e.status ?? "success",
        metadata: e.metadata ?? {},
      });
    } catch (err) {
      this.log.error({ err, action: e.action }, "audit log write failed");
    }
    await this.events?.onAudit({
      teamId: e.teamId,
      resourceType: e.resourceType,
      resourceId: e.resourceId,
      action: e.action,
      status: e.status ?? "success",
      actorName: actor.name,
      metadata: e.metadata ?? {},
    });
  }

  /** A user signed up (their first team was created with them). */
  userSignedUp(actor: Actor, teamId: string, userId: string, method: "password" | "oauth") {
    return this.record(actor, {
      teamId,
      resourceType: "user",
      resourceId: formatId("user", userId),
      action: "signup",
      scope: "admin",
      metadata: { method },
    });
  }

  /** A user signed in. */
  userLoggedIn(actor: Actor, teamId: string, userId: string, method: "password" | "oauth") {
    return this.record(actor, {
      teamId,
      resourceType: "user",
      resourceId: formatId("user", userId),
      action: "login",
      scope: "admin",
      metadata: { method },
    });
  }

  /** A team was created. */
  teamCreated(actor: Actor, teamId: string, name: string) {
    return this.record(actor, {
      teamId,
      resourceType: "team",
      resourceId: formatId("team", teamId),
      action: "create",
      scope: "team",
      metadata: { name },
    });
  }

  /** A team was renamed. */
  teamRenamed(actor: Actor, teamId: string, from: string, to: string) {
    return this.record(actor, {
      teamId,
      resourceType: "team",
      resourceId: formatId("team", teamId),
      action: "rename",
      scope: "team",
      metadata: { from, to },
    });
  }

  /** A team was soft-deleted. */
  teamDeleted(actor: Actor, teamId: string) {
    return this.record(actor, {
      teamId,
      resourceType: "team",
      resourceId: formatId("team", teamId),
      action: "delete",
      scope: "admin",
      status: "warning",
    });
  }

  /** A platform admin changed a team's BYOC flag. */
  teamByocSet(actor: Actor, teamId: string, isByoc: boolean) {
    return this.record(actor, {
      teamId,
      resourceType: "team",
      resourceId: formatId("team", teamId),
      action: "set_byoc",
      scope: "admin",
      metadata: { is_byoc: isByoc },
    });
  }

  /** A platform admin granted or removed another user's platform-admin flag (no team: platform-wide). */
  userAdminSet(actor: Actor, userId: string, isAdmin: boolean) {
    return this.record(actor, {
      teamId: null,
      resourceType: "user",
      resourceId: formatId("user", userId),
      action: "set_admin",
      scope: "admin",
      metadata: { is_admin: isAdmin },
    });
  }

  /** An API key was created. */
  apiKeyCreated(actor: Actor, teamId: string, keyId: string, name: string) {
    return this.record(actor, {
      teamId,
      resourceType: "api_key",
      resourceId: formatId("apiKey", keyId),
      action: "create",
      scope: "admin",
      metadata: { name },
    });
  }

  /** An API key was revoked. */
  apiKeyRevoked(actor: Actor, teamId: string, keyId: string, name: string) {
    return this.record(actor, {
      teamId,
      resourceType: "api_key",
      resourceId: formatId("apiKey", keyId),
      action: "revoke",
      scope: "admin",
      status: "warning",
      metadata: { name },
    });
  }

  /** A member was added to a team. */
  memberAdded(actor: Actor, teamId: string, userId: string, email: string, role: string) {
    return this.record(actor, {
      teamId,
      resourceType: "member",
      resourceId: formatId("user", userId),
      action: "add",
      scope: "team",
      metadata: { email, role },
    });
  }

  /** A member was removed from a team by an admin or owner. */
  memberRemoved(actor: Actor, teamId: string, userId: string, email: string) {
    return this.record(actor, {
      teamId,
      resourceType: "member",
      resourceId: formatId("user", userId),
      action: "remove",
      scope: "team",
      status: "warning",
      metadata: { email },
    });
  }

  /** A member left a team. */
  memberLeft(actor: Actor, teamId: string, userId: string) {
    return this.record(actor, {
      teamId,
      resourceType: "member",
      resourceId: formatId("user", userId),
      action: "leave",
      scope: "team",
    });
  }

  /** A member's role changed. */
  memberRoleUpdated(actor: Actor, teamId: string, userId: string, from: string, to: string) {
    return this.record(actor, {
      teamId,
      resourceType: "member",
      resourceId: formatId("user", userId),
      action: "role_update",
      scope: "admin",
      metadata: { from, to },
    });
  }

  /** A host was created (a registration token was issued). */
  hostCreated(actor: Actor, teamId: string | null, hostId: string, type: string) {
    return this.record(actor, {
      teamId,
      resourceType: "host",
      resourceId: formatId("host", hostId),
      action: "create",
      scope: "admin",
      metadata: { type },
    });
  }

  /** A new registration token was issued for a pending host. */
  hostTokenRegenerated(actor: Actor, teamId: string | null, hostId: string) {
    return this.record(actor, {
      teamId,
      resourceType: "host",
      resourceId: formatId("host", hostId),
      action: "regenerate_token",
      scope: "admin",
    });
  }

  /** A host agent registered with its one-time token. */
  hostRegistered(actor: Actor, teamId: string | null, hostId: string, address: string) {
    return this.record(actor, {
      teamId,
      resourceType: "host",
      resourceId: formatId("host", hostId),
      action: "register",
      scope: "admin",
      metadata: { address },
    });
  }

  /** A host was deleted (with `force`, its sandboxes were destroyed). */
  hostDeleted(actor: Actor, teamId: string | null, hostId: string, destroyedSandboxes: number) {
    return this.record(actor, {
      teamId,
      resourceType: "host",
      resourceId: formatId("host", hostId),
      action: "delete",
      scope: "admin",
      status: "warning",
      metadata: { destroyed_sandboxes: destroyedSandboxes },
    });
  }

  /** A tag was added to or removed from a host. */
  hostTagChanged(actor: Actor, teamId: string | null, hostId: string, tag: string, added: boolean) {
    return this.record(actor, {
      teamId,
      resourceType: "host",
      resourceId: formatId("host", hostId),
      action: added ? "tag_add" : "tag_remove",
      scope: "admin",
      metadata: { tag },
    });
  }

  /** A host stopped heartbeating (`unreachable`) or came back (`online`). */
  hostStatusChanged(teamId: string | null, hostId: string, status: string, sandboxes: number) {
    return this.record(systemActor, {
      teamId,
      resourceType: "host",
      resourceId: formatId("host", hostId),
      action: status === "online" ? "reconnect" : "unreachable",
      scope: "admin",
      status: status === "online" ? "info" : "warning",
      metadata: { sandboxes },
    });
  }

  /** A template was captured from a sandbox (`status: error` when the capture failed). */
  snapshotCreated(
    actor: Actor,
    teamId: string,
    templateId: string,
    metadata: Record<string, unknown>,
    status: AuditStatus = "success",
  ) {
    return this.record(actor, {
      teamId,
      resourceType: "template",
      resourceId: formatId("template", templateId),
      action: "create",
      scope: "team",
      status,
      metadata,
    });
  }

  /** A template and its files on every host were deleted (by its team, an admin, or team deletion). */
  snapshotDeleted(actor: Actor, teamId: string, templateId: string, metadata: Record<string, unknown>) {
    return this.record(actor, {
      teamId,
      resourceType: "template",
      resourceId: formatId("template", templateId),
      action: "delete",
      scope: "team",
      status: "warning",
      metadata,
    });
  }

  /** A sandbox lifecycle action (create, pause, resume, destroy, and background state changes). */
  sandboxAction(
    actor: Actor,
    teamId: string,
    sandboxId: string,
    action: string,
    options: { status?: AuditStatus; metadata?: Record<string, unknown> } = {},
  ) {
    return this.record(actor, {
      teamId,
      resourceType: "sandbox",
      resourceId: formatId("sandbox", sandboxId),
      action,
      scope: "team",
      ...options,
    });
  }
  /** A notification channel was created, changed, re-keyed or deleted (`action`: create|update|rotate_config|delete). */
  channelChanged(
    actor: Actor,
    teamId: string,
    channelId: string,
    action: "create" | "update" | "rotate_config" | "delete",
    metadata: Record<string, unknown>,
  ) {
    return this.record(actor, {
      teamId,
      resourceType: "channel",
      resourceId: formatId("channel", channelId),
      action,
      scope: "admin",
      status: action === "delete" ? "warning" : "success",
      metadata,
    });
  }

  /** A channel was disabled after failing `failures` deliveries in a row. */
  channelAutoDisabled(teamId: string, channelId: string, failures: number, lastError: string) {
    return this.record(systemActor, {
      teamId,
      resourceType: "channel",
      resourceId: formatId("channel", channelId),
      action: "auto_disable",
      scope: "admin",
      status: "warning",
      metadata: { consecutive_failures: failures, last_error: lastError },
    });
  }
}
