import type { Logger } from "@wrenn/common";
import type { EnvdConfig, EnvdContext } from "./context.ts";
import { openListener, type RequestHandler } from "./listener.ts";
import type { PortForwarder } from "./portforward.ts";
import type { ProcessManager } from "./process/manager.ts";

/** A running envd. */
export interface EnvdServer {
  /** The port it listens on (useful with port 0). */
  port: number;
  context: EnvdContext;
  processes: ProcessManager;
  portForwarder: PortForwarder;
  /** Milliseconds since process start: port open (/health answers) and all services loaded. */
  timings: { listeningMs: number; readyMs: number };
  /** Stops listening, kills started processes, closes watchers and relays. */
  close(): Promise<void>;
}

/** The defaults of a guest envd; main.ts and tests override what they need. */
export function defaultConfig(): EnvdConfig {
  return {
    port: 49983,
    host: "0.0.0.0",
    passwdFile: "/etc/passwd",
    groupFile: "/etc/group",
    clockSync: true,
    forwardAddresses: undefined,
    portScanIntervalMs: 1000,
    outputBufferBytes: 4 * 1024 * 1024,
    version: "0.6.4",
  };
}

/**
 * Starts envd. The port opens first and answers /health while the services'
 * modules load (a separate chunk of the bundle); requests that arrive
 * meanwhile wait for them. Resolves once everything is loaded.
 */
export async function startEnvd(overrides: Partial<EnvdConfig> = {}, logger?: Logger): Promise<EnvdServer> {
  const config = { ...defaultConfig(), ...overrides };
  // The services' chunk is imported only once the port is open, so parsing it cannot delay the listen.
  let provideHandler: (handler: Promise<RequestHandler>) => void = () => undefined;
  const handler = new Promise<RequestHandler>((resolve) => {
    provideHandler = resolve;
  });
  const listener = await openListener(config.port, config.host, handler);
  const app = import("./app.ts").then(({ createApp }) => createApp(config, logger));
  provideHandler(app.then((loaded) => loaded.handle));
  const loaded = await app.catch(async (err) => {
    await listener.close();
    throw err;
  });
  const readyMs = performance.now();
  const portForwarder = loaded.startPortForwarding(listener.port);
  return {
    port: listener.port,
    context: loaded.context,
    processes: loaded.processes,
    portForwarder,
    timings: { listeningMs: listener.listeningAtMs, readyMs },
    async close() {
      portForwarder.stop();
      loaded.close();
      await listener.close();
    },
  };
}
