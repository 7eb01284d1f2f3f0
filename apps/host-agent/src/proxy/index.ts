/** The host agent's port proxy: `/proxy/{sandboxId}/{port}/…` to a sandbox's guest port. */
export { type ConnLease, ConnTracker } from "./conn-tracker.ts";
export { isProxyPath, PROXY_PATH_PREFIX, type ProxyRoute, parseProxyRoute } from "./route.ts";
export {
  type ProxyResolver,
  type ProxyTarget,
  SandboxProxy,
  type SandboxProxyOptions,
} from "./sandbox-proxy.ts";
