import { parseArgs } from "node:util";
import { startEnvd } from "./server.ts";

/**
 * envd entry point. Flags win over environment variables:
 * --port / ENVD_PORT (49983), --host / ENVD_HOST (0.0.0.0),
 * --passwd-file / ENVD_PASSWD_FILE, --group-file / ENVD_GROUP_FILE,
 * --no-clock-sync / ENVD_CLOCK_SYNC=0, --forward-addresses / ENVD_FORWARD_ADDRESSES (comma list),
 * --port-scan-interval-ms / ENVD_PORT_SCAN_INTERVAL_MS (0 disables port forwarding).
 */
const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "passwd-file": { type: "string" },
    "group-file": { type: "string" },
    "no-clock-sync": { type: "boolean" },
    "forward-addresses": { type: "string" },
    "port-scan-interval-ms": { type: "string" },
  },
  strict: true,
});
const env = process.env;
const forwardAddresses = values["forward-addresses"] ?? env.ENVD_FORWARD_ADDRESSES;
const scanInterval = values["port-scan-interval-ms"] ?? env.ENVD_PORT_SCAN_INTERVAL_MS;

const server = await startEnvd({
  port: Number(values.port ?? env.ENVD_PORT ?? 49983),
  host: values.host ?? env.ENVD_HOST ?? "0.0.0.0",
  passwdFile: values["passwd-file"] ?? env.ENVD_PASSWD_FILE ?? "/etc/passwd",
  groupFile: values["group-file"] ?? env.ENVD_GROUP_FILE ?? "/etc/group",
  clockSync: !(values["no-clock-sync"] ?? env.ENVD_CLOCK_SYNC === "0"),
  forwardAddresses: forwardAddresses ? forwardAddresses.split(",").filter(Boolean) : undefined,
  portScanIntervalMs: scanInterval === undefined ? 1000 : Number(scanInterval),
});
const { logger } = server.context;
logger.info(
  {
    port: server.port,
    // Milliseconds since the Node process started (not since this module ran).
    startupMs: Math.round(server.timings.listeningMs),
    readyMs: Math.round(server.timings.readyMs),
  },
  "envd listening",
);

const shutdown = () => {
  void server.close().finally(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
// A bad request must never take the daemon down with it.
process.on("uncaughtException", (err) => logger.error({ err }, "uncaught exception"));
process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
