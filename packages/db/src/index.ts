export {
  connectDatabase,
  type Database,
  type DbHandle,
  type Executor,
  isUniqueViolation,
  type Transaction,
} from "./client.ts";
export { type EmbeddedDatabase, startEmbeddedPostgres } from "./embedded.ts";
export { migrate, migrationsDir } from "./migrate.ts";
export { freePort } from "./ports.ts";
export { PostgresAlreadyRunningError, recoverPostmasterLock } from "./postmaster-lock.ts";
export * from "./queries/admin.ts";
export * from "./queries/api-keys.ts";
export * from "./queries/audit.ts";
export * from "./queries/builds.ts";
export * from "./queries/channels.ts";
export * from "./queries/hosts.ts";
export * from "./queries/metrics.ts";
export * from "./queries/oauth.ts";
export * from "./queries/sandbox-proxy.ts";
export * from "./queries/sandboxes.ts";
export * from "./queries/team-stats.ts";
export * from "./queries/teams.ts";
export * from "./queries/templates.ts";
export * from "./queries/users.ts";
export * as schema from "./schema.ts";
export {
  type ActorType,
  type AuditScope,
  type AuditStatus,
  PLATFORM_TEAM_ID,
  type SandboxState,
  type SandboxTimeoutAction,
  type TeamRole,
  teamRoles,
} from "./schema.ts";
