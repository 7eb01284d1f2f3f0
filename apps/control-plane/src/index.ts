export { type App, type AppDeps, createApp, openApiInfo } from "./app.ts";
export { hashApiKey } from "./auth/api-keys.ts";
export { type SessionClaims, SessionTokens } from "./auth/jwt.ts";
export { hashPassword } from "./auth/passwords.ts";
export { type Config, ConfigError, loadConfig, loadDotEnv } from "./config.ts";
export type { AppEnv, AuthContext } from "./http/context.ts";
export { formatId, type IdKind, idPrefixes, parseIdOrInvalid, parseIdOrNotFound, tryParseId } from "./ids.ts";
export { pings, RedisNotInstalledError, type RedisServer, startRedisServer } from "./infra/redis-server.ts";
export { type Component, Supervisor } from "./infra/supervisor.ts";
export { type RunningControlPlane, startControlPlane } from "./server.ts";
export { createUserWithTeam } from "./services/auth.ts";
export { DEFAULT_ADMIN_EMAIL, ensureAdminAccount } from "./services/bootstrap.ts";
export {
  type CallResult,
  call,
  createTestApp,
  createTestRedis,
  signupUser,
  type TestApp,
  type TestRedis,
} from "./testing.ts";
