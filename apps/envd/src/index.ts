/** @wrenn/envd: the in-guest daemon, usable in-process for tests and tools. */
export { fileSignature } from "./auth.ts";
export type { EnvdConfig, EnvdContext } from "./context.ts";
export { defaultConfig, type EnvdServer, startEnvd } from "./server.ts";
