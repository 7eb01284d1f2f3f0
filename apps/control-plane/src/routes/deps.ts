import type { Logger } from "@wrenn/common";
import type { MiddlewareHandler } from "hono";
import type { HostTokens } from "../auth/host-tokens.ts";
import type { Config } from "../config.ts";
import type { AppEnv } from "../http/context.ts";
import type { UpgradeRegistry } from "../http/upgrade.ts";
import type { OAuthProvider } from "../oauth/provider.ts";
import type { OAuthStateSigner } from "../oauth/state.ts";
import type { ApiKeysService } from "../services/api-keys.ts";
import type { AuditQueryService } from "../services/audit-query.ts";
import type { AuthService } from "../services/auth.ts";
import type { AuthContext } from "../services/auth-context.ts";
import type { Credentials } from "../services/authenticator.ts";
import type { HostsService } from "../services/hosts.ts";
import type { SandboxesService } from "../services/sandboxes.ts";
import type { TeamsService } from "../services/teams.ts";
import type { UsersService } from "../services/users.ts";

/** What route modules need: services, auth middlewares and a little configuration. */
export interface RouteDeps {
  config: Config;
  log: Logger;
  /** WebSocket (upgrade) handlers; see `http/upgrade.ts`. */
  upgrades: UpgradeRegistry;
  services: {
    auth: AuthService;
    apiKeys: ApiKeysService;
    teams: TeamsService;
    users: UsersService;
    audit: AuditQueryService;
    hosts: HostsService;
    sandboxes: SandboxesService;
  };
  /** Verifies `X-Host-Token` (host agent JWTs). */
  hostTokens: HostTokens;
  mw: {
    requireJWT: MiddlewareHandler<AppEnv>;
    requireAPIKeyOrJWT: MiddlewareHandler<AppEnv>;
    requireAdmin: MiddlewareHandler<AppEnv>;
    /** The credential check behind `requireAPIKeyOrJWT`, for WebSocket upgrades. */
    authenticate: (credentials: Credentials) => Promise<AuthContext>;
  };
  oauth: { providers: Map<string, OAuthProvider>; state: OAuthStateSigner };
}
