import {
  bigint,
  bigserial,
  boolean,
  customType,
  doublePrecision,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * Drizzle table definitions mirroring `migrations/*.sql` (the SQL files are the
 * source of truth for the database; these give queries their types).
 */

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const bytea = customType<{ data: Buffer }>({ dataType: () => "bytea" });

/** Roles a user can hold in a team, strongest first. */
export const teamRoles = ["owner", "admin", "member"] as const;
/** One of {@link teamRoles}. */
export type TeamRole = (typeof teamRoles)[number];

/** The all-zeros UUID of the platform team that owns shared templates. */
export const PLATFORM_TEAM_ID = "00000000-0000-0000-0000-000000000000";

/** Users: a null password hash means the account signs in only through OAuth. */
export const users = pgTable("users", {
  id: uuid("id").primaryKey().defaultRandom(),
  email: text("email").notNull(),
  name: text("name").notNull().default(""),
  passwordHash: text("password_hash"),
  isAdmin: boolean("is_admin").notNull().default(false),
  /** Session tokens carrying an older version are revoked (password change, logout). */
  sessionVersion: integer("session_version").notNull().default(0),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/** Teams own every resource; `deletedAt` marks a soft delete. */
export const teams = pgTable("teams", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  slug: text("slug").notNull(),
  isByoc: boolean("is_byoc").notNull().default(false),
  createdAt: ts("created_at").notNull().defaultNow(),
  deletedAt: ts("deleted_at"),
});

/** Memberships. */
export const usersTeams = pgTable(
  "users_teams",
  {
    userId: uuid("user_id").notNull(),
    teamId: uuid("team_id").notNull(),
    role: text("role").$type<TeamRole>().notNull(),
    isDefault: boolean("is_default").notNull().default(false),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.teamId] })],
);

/** Team API keys, stored as SHA-256 hashes. */
export const teamApiKeys = pgTable("team_api_keys", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id").notNull(),
  name: text("name").notNull(),
  keyHash: text("key_hash").notNull(),
  keyPrefix: text("key_prefix").notNull(),
  createdBy: uuid("created_by"),
  createdAt: ts("created_at").notNull().defaultNow(),
  lastUsedAt: ts("last_used_at"),
});

/** OAuth identities linked to users. */
export const oauthProviders = pgTable(
  "oauth_providers",
  {
    provider: text("provider").notNull(),
    providerUserId: text("provider_user_id").notNull(),
    userId: uuid("user_id").notNull(),
    email: text("email").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.providerUserId] })],
);

/** Fine-grained platform-admin permissions. */
export const adminPermissions = pgTable(
  "admin_permissions",
  {
    userId: uuid("user_id").notNull(),
    permission: text("permission").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.permission] })],
);

/** Who did something: a user, an API key, the system, or a host. */
export type ActorType = "user" | "api_key" | "system" | "host";
/** Visibility of an audit event: team members, or team admins/owners only. */
export type AuditScope = "team" | "admin";
/** Outcome of an audited action. */
export type AuditStatus = "success" | "info" | "warning" | "error";

/** Append-only audit trail. */
export const auditLogs = pgTable("audit_logs", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id"),
  actorType: text("actor_type").$type<ActorType>().notNull(),
  actorId: text("actor_id").notNull(),
  actorName: text("actor_name").notNull().default(""),
  resourceType: text("resource_type").notNull(),
  resourceId: text("resource_id").notNull().default(""),
  action: text("action").notNull(),
  scope: text("scope").$type<AuditScope>().notNull(),
  status: text("status").$type<AuditStatus>().notNull(),
  metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: ts("created_at").notNull().defaultNow(),
});

/** Host machines running the host agent. */
export const hosts = pgTable("hosts", {
  id: uuid("id").primaryKey().defaultRandom(),
  type: text("type").$type<"regular" | "byoc">().notNull(),
  teamId: uuid("team_id"),
  provider: text("provider").notNull().default(""),
  availabilityZone: text("availability_zone").notNull().default(""),
  arch: text("arch").notNull().default(""),
  cpuCount: integer("cpu_count").notNull().default(0),
  memoryMb: integer("memory_mb").notNull().default(0),
  diskGb: integer("disk_gb").notNull().default(0),
  address: text("address").notNull().default(""),
  status: text("status").$type<"pending" | "online" | "offline" | "unreachable" | "draining">().notNull(),
  lastHeartbeatAt: ts("last_heartbeat_at"),
  certFingerprint: text("cert_fingerprint"),
  certExpiresAt: ts("cert_expires_at"),
  metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
  createdBy: uuid("created_by"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/** One-time host registration tokens (the secret itself lives in Redis). */
export const hostTokens = pgTable("host_tokens", {
  id: uuid("id").primaryKey().defaultRandom(),
  hostId: uuid("host_id").notNull(),
  createdBy: uuid("created_by"),
  createdAt: ts("created_at").notNull().defaultNow(),
  expiresAt: ts("expires_at").notNull(),
  usedAt: ts("used_at"),
});

/** Host refresh tokens, stored hashed. */
export const hostRefreshTokens = pgTable("host_refresh_tokens", {
  id: uuid("id").primaryKey().defaultRandom(),
  hostId: uuid("host_id").notNull(),
  tokenHash: text("token_hash").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
  expiresAt: ts("expires_at").notNull(),
  revokedAt: ts("revoked_at"),
});

/** Free-form host tags used by scheduling. */
export const hostTags = pgTable(
  "host_tags",
  { hostId: uuid("host_id").notNull(), tag: text("tag").notNull() },
  (t) => [primaryKey({ columns: [t.hostId, t.tag] })],
);

/** Templates (snapshots or images); the platform team's are visible to all. */
export const templates = pgTable("templates", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id").notNull(),
  name: text("name").notNull(),
  type: text("type").$type<"snapshot" | "image">().notNull(),
  vcpus: integer("vcpus").notNull().default(1),
  memoryMb: integer("memory_mb").notNull().default(512),
  sizeBytes: bigint("size_bytes", { mode: "number" }).notNull().default(0),
  createdAt: ts("created_at").notNull().defaultNow(),
  /** Host whose disk holds the template's files; null when every host can build it (`minimal`). */
  hostId: uuid("host_id"),
  /** Environment every sandbox from it starts with (a build's ENV steps). */
  envs: jsonb("envs").$type<Record<string, string>>().notNull().default({}),
  /** envd's default user in its sandboxes (a build's last USER); null = envd's own default. */
  defaultUser: text("default_user"),
  /** envd's default working directory in its sandboxes (a build's last WORKDIR). */
  defaultWorkdir: text("default_workdir"),
  /** Disk size its sandboxes get by default and at least (built templates); null = the platform default. */
  diskSizeMb: integer("disk_size_mb"),
});

/** What E2B's timeout does to a sandbox when its end time passes. */
export type SandboxTimeoutAction = "kill" | "pause";

/** Sandbox lifecycle states. */
export type SandboxState = "pending" | "starting" | "running" | "paused" | "stopped" | "missing" | "error";

/** Sandboxes (microVMs). */
export const sandboxes = pgTable("sandboxes", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id").notNull(),
  hostId: uuid("host_id"),
  template: text("template").notNull().default("minimal"),
  templateId: uuid("template_id"),
  state: text("state").$type<SandboxState>().notNull().default("pending"),
  vcpus: integer("vcpus").notNull().default(1),
  memoryMb: integer("memory_mb").notNull().default(512),
  diskSizeMb: integer("disk_size_mb").notNull().default(5120),
  timeoutSec: integer("timeout_sec").notNull().default(0),
  metadata: jsonb("metadata").$type<Record<string, string>>().notNull().default({}),
  envdAccessToken: text("envd_access_token"),
  hostIp: text("host_ip"),
  createdAt: ts("created_at").notNull().defaultNow(),
  startedAt: ts("started_at"),
  lastActiveAt: ts("last_active_at"),
  lastUpdated: ts("last_updated").notNull().defaultNow(),
  /** E2B's absolute end time (sandboxes created through /e2b); null = none now. */
  endAt: ts("end_at"),
  /** What happens at `endAt`; null = Wrenn's inactivity timer (`timeoutSec`) governs instead. */
  onTimeout: text("on_timeout").$type<SandboxTimeoutAction>(),
  /** Proxied traffic resumes the sandbox while it is paused (E2B's `autoResume`). */
  autoResume: boolean("auto_resume").notNull().default(false),
  /** Egress (E2B's allow_internet_access): false = every address denied but those in `allowOut`. */
  allowInternet: boolean("allow_internet").notNull().default(true),
  /** Allowed destinations (CIDRs, IPs, domains; optional `:port`): win over `denyOut`. */
  allowOut: jsonb("allow_out").$type<string[]>().notNull().default([]),
  /** Denied destinations (CIDRs, IPs; optional `:port`). */
  denyOut: jsonb("deny_out").$type<string[]>().notNull().default([]),
  /** The E2B timeout given at creation (seconds): an auto-resumed sandbox runs it again (at least 300 s). */
  e2bTimeoutSec: integer("e2b_timeout_sec"),
});

/** Status of a template build. */
export type BuildStatus = "queued" | "building" | "ready" | "error" | "cancelled";

/** Progress of one step of a build, as stored in `template_builds.steps`. */
export interface BuildStepProgress {
  /** 1-based. */
  index: number;
  description: string;
  status: "pending" | "running" | "done" | "cached" | "failed" | "skipped";
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number | null;
}

/** Template builds (issue #16): one row per submitted recipe / Dockerfile / step list. */
export const templateBuilds = pgTable("template_builds", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id").notNull(),
  name: text("name").notNull(),
  baseTemplate: text("base_template").notNull().default("minimal"),
  source: text("source").$type<"recipe" | "dockerfile" | "steps">().notNull(),
  sourceText: text("source_text").notNull().default(""),
  spec: jsonb("spec").$type<unknown>().notNull(),
  vcpus: integer("vcpus").notNull(),
  memoryMb: integer("memory_mb").notNull(),
  diskSizeMb: integer("disk_size_mb").notNull(),
  skipPrePost: boolean("skip_pre_post").notNull().default(false),
  skipCache: boolean("skip_cache").notNull().default(false),
  status: text("status").$type<BuildStatus>().notNull().default("queued"),
  currentStep: integer("current_step").notNull().default(0),
  totalSteps: integer("total_steps").notNull().default(0),
  steps: jsonb("steps").$type<BuildStepProgress[]>().notNull().default([]),
  error: text("error"),
  failedStep: integer("failed_step"),
  sandboxId: uuid("sandbox_id"),
  hostId: uuid("host_id"),
  templateId: uuid("template_id"),
  createdBy: text("created_by").notNull().default(""),
  createdAt: ts("created_at").notNull().defaultNow(),
  startedAt: ts("started_at"),
  completedAt: ts("completed_at"),
});

/** Output of builds: step output chunks and builder messages. */
export const templateBuildLogs = pgTable("template_build_logs", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  buildId: uuid("build_id").notNull(),
  step: integer("step").notNull().default(0),
  stream: text("stream").$type<"system" | "stdout" | "stderr">().notNull(),
  message: text("message").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

/** Build context files COPY steps use, kept until the build ends. */
export const templateBuildFiles = pgTable(
  "template_build_files",
  {
    buildId: uuid("build_id").notNull(),
    path: text("path").notNull(),
    mode: integer("mode").notNull().default(0o644),
    content: bytea("content").notNull(),
  },
  (t) => [primaryKey({ columns: [t.buildId, t.path] })],
);

/** Build cache layers (hidden snapshot templates on `hostId`). */
export const templateBuildLayers = pgTable("template_build_layers", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id").notNull(),
  cacheKey: text("cache_key").notNull(),
  hostId: uuid("host_id").notNull(),
  sizeBytes: bigint("size_bytes", { mode: "number" }).notNull().default(0),
  createdAt: ts("created_at").notNull().defaultNow(),
  lastUsedAt: ts("last_used_at").notNull().defaultNow(),
});

/** Team-level usage samples (every 10 s). */
export const sandboxMetricsSnapshots = pgTable(
  "sandbox_metrics_snapshots",
  {
    teamId: uuid("team_id").notNull(),
    sampledAt: ts("sampled_at").notNull(),
    runningCount: integer("running_count").notNull().default(0),
    pausedCount: integer("paused_count").notNull().default(0),
    vcpusReserved: integer("vcpus_reserved").notNull().default(0),
    memoryMbReserved: integer("memory_mb_reserved").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.teamId, t.sampledAt] })],
);

/** Per-sandbox metric points by retention tier. */
export const sandboxMetricPoints = pgTable(
  "sandbox_metric_points",
  {
    sandboxId: uuid("sandbox_id").notNull(),
    tier: text("tier").$type<"10m" | "2h" | "24h">().notNull(),
    ts: ts("ts").notNull(),
    cpuPct: doublePrecision("cpu_pct").notNull().default(0),
    memBytes: bigint("mem_bytes", { mode: "number" }).notNull().default(0),
    diskBytes: bigint("disk_bytes", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.sandboxId, t.tier, t.ts] })],
);

/** Notification channels (provider secrets encrypted). */
export const channels = pgTable("channels", {
  id: uuid("id").primaryKey().defaultRandom(),
  teamId: uuid("team_id").notNull(),
  name: text("name").notNull(),
  provider: text("provider").notNull(),
  configEncrypted: bytea("config_encrypted").notNull(),
  events: text("events").array().notNull().default([]),
  enabled: boolean("enabled").notNull().default(true),
  disabledReason: text("disabled_reason").notNull().default(""),
  lastDeliveryStatus: text("last_delivery_status").$type<"delivered" | "failed">(),
  lastDeliveryAt: ts("last_delivery_at"),
  lastError: text("last_error").notNull().default(""),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  createdBy: uuid("created_by"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/** The deployment's random id (one row): names what several deployments must not share, e.g. the event stream. */
export const deploymentIdentity = pgTable("deployment_identity", {
  id: uuid("id").primaryKey().defaultRandom(),
  singleton: boolean("singleton").notNull().default(true),
  createdAt: ts("created_at").notNull().defaultNow(),
});

/** One event's delivery to one channel (attempts counted across retries). */
export const channelDeliveries = pgTable(
  "channel_deliveries",
  {
    channelId: uuid("channel_id").notNull(),
    eventId: text("event_id").notNull(),
    teamId: uuid("team_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status").$type<"pending" | "delivered" | "failed">().notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error").notNull().default(""),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.eventId] })],
);
