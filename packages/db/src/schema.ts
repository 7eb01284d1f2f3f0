import {
  bigint,
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
});

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
});

/** Template build jobs. */
export const templateBuilds = pgTable("template_builds", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  baseTemplate: text("base_template").notNull().default("minimal"),
  recipe: jsonb("recipe").$type<unknown[]>().notNull().default([]),
  healthcheck: text("healthcheck"),
  vcpus: integer("vcpus").notNull().default(1),
  memoryMb: integer("memory_mb").notNull().default(512),
  skipPrePost: boolean("skip_pre_post").notNull().default(false),
  status: text("status").$type<"pending" | "running" | "success" | "failed" | "cancelled">().notNull(),
  currentStep: integer("current_step").notNull().default(0),
  totalSteps: integer("total_steps").notNull().default(0),
  logs: jsonb("logs").$type<unknown[]>().notNull().default([]),
  error: text("error"),
  sandboxId: uuid("sandbox_id"),
  hostId: uuid("host_id"),
  templateId: uuid("template_id"),
  createdBy: uuid("created_by"),
  createdAt: ts("created_at").notNull().defaultNow(),
  startedAt: ts("started_at"),
  completedAt: ts("completed_at"),
});

/** Team-level usage samples (every 10 s). */
export const sandboxMetricsSnapshots = pgTable(
  "sandbox_metrics_snapshots",
  {
    teamId: uuid("team_id").notNull(),
    sampledAt: ts("sampled_at").notNull(),
    runningCount: integer("running_count").notNull().default(0),
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
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});
