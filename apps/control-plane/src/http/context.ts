import type { Logger } from "@wrenn/common";
import type { AuthContext } from "../services/auth-context.ts";

/** Hono environment of the control plane app. */
export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    auth: AuthContext;
  };
}
