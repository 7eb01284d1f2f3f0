/**
 * The lifecycle events a channel can subscribe to, and how audit entries map to them. The audit
 * path is the one place every lifecycle change is recorded, so events are derived from it rather
 * than emitted separately at each call site.
 */
import type { AuditEntry } from "../services/audit.ts";

/** Each event type with what it means (the provider list and docs show these). */
export const eventCatalog = {
  "sandbox.created": { title: "Capsule created", description: "A sandbox started" },
  "sandbox.paused": { title: "Capsule paused", description: "A sandbox was paused by a user or API key" },
  "sandbox.resumed": { title: "Capsule resumed", description: "A paused sandbox was resumed" },
  "sandbox.auto_paused": {
    title: "Capsule auto-paused",
    description: "A sandbox was paused by its inactivity timeout",
  },
  "sandbox.destroyed": { title: "Capsule destroyed", description: "A sandbox was destroyed" },
  "sandbox.forked": {
    title: "Capsule forked",
    description: "A running sandbox was forked into new sandboxes (each also reported as created)",
  },
  "sandbox.failed": {
    title: "Capsule failed",
    description: "A sandbox failed to start, or was lost with its host",
  },
  "template.created": { title: "Template created", description: "A snapshot or template was captured" },
  "template.deleted": { title: "Template deleted", description: "A snapshot or template was deleted" },
  "build.succeeded": { title: "Build succeeded", description: "A template build finished" },
  "build.failed": { title: "Build failed", description: "A template build failed" },
  "build.cancelled": { title: "Build cancelled", description: "A template build was cancelled" },
  "host.online": { title: "Host online", description: "A host registered or came back" },
  "host.unreachable": { title: "Host unreachable", description: "A host stopped heartbeating" },
  "host.deleted": { title: "Host deleted", description: "A host was removed" },
} as const satisfies Record<string, { title: string; description: string }>;

/** One of the {@link eventCatalog} types. */
export type EventType = keyof typeof eventCatalog;

/** Every event type, in catalogue order. */
export const eventTypes = Object.keys(eventCatalog) as EventType[];

/** True when `value` is a known event type. */
export function isEventType(value: string): value is EventType {
  return Object.hasOwn(eventCatalog, value);
}

/** What the audit logger writes, as far as events care: the entry its sink receives. */
export type AuditFacts = AuditEntry;

/** A lifecycle event as it travels through the stream and reaches providers. */
export interface LifecycleEvent {
  type: EventType;
  /** Null for events of shared hosts (they go to the operators' channels). */
  teamId: string | null;
  /** The wire id of what changed (`sb-…`, `tpl-…`, `bld-…`, `host-…`). */
  resourceId: string;
  resourceType: string;
  /** Who caused it (`system` for background work). */
  actor: string;
  occurredAt: string;
  /** Facts worth showing (template name, error, reason); never secrets. */
  details: Record<string, string>;
}

type Rule = (f: AuditFacts) => EventType | undefined;

/** Audit (resource type → action → event) rules; `status` tells a failed create from a good one. */
const rules: Record<string, Record<string, Rule>> = {
  sandbox: {
    create: (f) => (f.status === "error" ? "sandbox.failed" : "sandbox.created"),
    pause: () => "sandbox.paused",
    resume: () => "sandbox.resumed",
    // The monitor (and resume/connect) settle a pause the agent made on its inactivity timeout.
    reconcile_paused: () => "sandbox.auto_paused",
    auto_pause: () => "sandbox.auto_paused",
    destroy: () => "sandbox.destroyed",
    fork: (f) => (f.status === "error" ? undefined : "sandbox.forked"),
    lost: () => "sandbox.failed",
  },
  template: {
    create: (f) => (f.status === "error" ? undefined : "template.created"),
    delete: () => "template.deleted",
  },
  build: {
    "build.succeeded": () => "build.succeeded",
    "build.failed": () => "build.failed",
    "build.cancelled": () => "build.cancelled",
    succeeded: () => "build.succeeded",
    failed: () => "build.failed",
    cancelled: () => "build.cancelled",
  },
  host: {
    register: () => "host.online",
    reconnect: () => "host.online",
    unreachable: () => "host.unreachable",
    delete: () => "host.deleted",
  },
};

/** Keys of audit metadata copied into events (short, secret-free facts). */
const detailKeys = [
  "template",
  "name",
  "error",
  "reason",
  "from",
  "host_id",
  "address",
  "sandboxes",
] as const;

/** The lifecycle event an audit entry stands for, or undefined when it is not one. */
export function eventFromAudit(f: AuditFacts, now = new Date()): LifecycleEvent | undefined {
  const type = rules[f.resourceType]?.[f.action]?.(f);
  if (!type) return undefined;
  const details: Record<string, string> = {};
  for (const key of detailKeys) {
    const v = f.metadata[key];
    if (typeof v === "string" || typeof v === "number") details[key] = String(v).slice(0, 300);
  }
  return {
    type,
    teamId: f.teamId,
    resourceId: f.resourceId,
    resourceType: f.resourceType,
    actor: f.actorName,
    occurredAt: now.toISOString(),
    details,
  };
}

/**
 * Every lifecycle event an audit entry stands for: {@link eventFromAudit}'s, and for a build that
 * made a template also `template.created` of that template (a rebuild reports the replaced
 * template deleted, so its successor must be reported created too).
 */
export function eventsFromAudit(f: AuditFacts, now = new Date()): LifecycleEvent[] {
  const event = eventFromAudit(f, now);
  if (!event) return [];
  const templateId = f.metadata.template_id;
  if (event.type !== "build.succeeded" || typeof templateId !== "string") return [event];
  const built: LifecycleEvent = {
    ...event,
    type: "template.created",
    resourceType: "template",
    resourceId: templateId,
    details: {
      ...(event.details.name ? { name: event.details.name } : {}),
      reason: `built by ${f.resourceId}`,
    },
  };
  return [event, built];
}

/** A rendered, provider-neutral message. */
export interface ChannelMessage {
  /** e.g. "Capsule auto-paused". */
  title: string;
  /** One or two short lines. */
  text: string;
  /** The dashboard page of the resource, when a public URL is configured. */
  link: string | undefined;
  event: MessageEvent;
}

/** The event a message is about: a lifecycle event with its stream id, or the test event. */
export type MessageEvent = Omit<LifecycleEvent, "type"> & { id: string; type: EventType | "channel.test" };

/**
 * The dashboard page of each kind of resource (routes of apps/dashboard): capsules and builds
 * have a page each; templates and hosts only their lists (shared hosts under /admin).
 */
const dashboardPages: Record<string, (e: LifecycleEvent) => string> = {
  sandbox: (e) => `/capsules/${e.resourceId}`,
  build: (e) => `/builds/${e.resourceId}`,
  template: () => "/templates",
  host: (e) => (e.teamId === null ? "/admin/hosts" : "/hosts"),
};

/** Renders the short message every provider sends (plain text, one link). */
export function renderMessage(
  event: LifecycleEvent & { id: string },
  dashboardUrl: string | undefined,
): ChannelMessage {
  const { title } = eventCatalog[event.type];
  const d = event.details;
  const parts = [`${title}: ${event.resourceId}`];
  if (d.template) parts.push(`template ${d.template}`);
  if (d.name) parts.push(d.name);
  if (d.reason) parts.push(d.reason);
  if (d.error) parts.push(`error: ${d.error}`);
  if (event.actor && event.actor !== "system") parts.push(`by ${event.actor}`);
  const page = dashboardPages[event.resourceType]?.(event);
  const link = dashboardUrl && page ? `${dashboardUrl}${page}` : undefined;
  return { title, text: parts.join(" · "), link, event };
}

/** The message `POST /v1/channels/test` sends. */
export function testMessage(dashboardUrl: string | undefined, channelName: string): ChannelMessage {
  const now = new Date().toISOString();
  return {
    title: "Wrenn test notification",
    text: `Test notification for channel "${channelName}": this channel is set up correctly.`,
    link: dashboardUrl ? `${dashboardUrl}/channels` : undefined,
    event: {
      id: `test-${Date.now()}`,
      type: "channel.test",
      teamId: null,
      resourceId: "test",
      resourceType: "test",
      actor: "",
      occurredAt: now,
      details: { test: "true" },
    },
  };
}
