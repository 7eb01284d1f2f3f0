import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createLogger, type Logger } from "@wrenn/common";
import { Filesystem, Process } from "@wrenn/proto";
import { SystemClock } from "./clock.ts";
import type { EnvdConfig, EnvdContext } from "./context.ts";
import { FileMetadataStore } from "./file-metadata/xattr.ts";
import { createFilesystemService } from "./filesystem/service.ts";
import { type HttpRequest, type HttpResponse, sendJson } from "./http/respond.ts";
import { createHttpRoutes } from "./http/routes.ts";
import { PortForwarder } from "./portforward.ts";
import { ProcessManager } from "./process/manager.ts";
import { createProcessService } from "./process/service.ts";
import { accessTokenInterceptor, errorInterceptor } from "./rpc.ts";
import { EnvdState } from "./state.ts";
import { UserDatabase } from "./users.ts";

/** envd's services, wired together, behind one request handler. */
export interface EnvdApp {
  context: EnvdContext;
  processes: ProcessManager;
  handle(req: HttpRequest, res: HttpResponse): void;
  /** Starts forwarding localhost servers (needs envd's own port to skip it). */
  startPortForwarding(envdPort: number): PortForwarder;
  /** Kills started processes and closes watchers. */
  close(): void;
}

/** Builds envd: state, accounts, the Connect services and the plain HTTP routes. */
export function createApp(config: EnvdConfig, logger?: Logger): EnvdApp {
  const log = logger ?? createLogger("envd");
  const context: EnvdContext = {
    config,
    state: new EnvdState(),
    users: new UserDatabase({ passwdFile: config.passwdFile, groupFile: config.groupFile }),
    logger: log,
    metadata: new FileMetadataStore(log),
  };
  const processes = new ProcessManager(context);
  const filesystem = createFilesystemService(context);
  // Started now, so it is part of a captured template and restored sandboxes step the clock without a fork.
  const clock = new SystemClock(context.logger);
  if (config.clockSync) clock.start();
  const httpRoutes = createHttpRoutes(context, clock);
  const connectHandler = connectNodeAdapter({
    routes(router) {
      router.service(Process, createProcessService(context, processes));
      router.service(Filesystem, filesystem);
    },
    interceptors: [errorInterceptor(context), accessTokenInterceptor(context)],
    fallback(_req, res) {
      sendJson(res as HttpResponse, 404, { code: 404, message: "no such route" });
    },
  });
  return {
    context,
    processes,
    handle(req, res) {
      const route = () => {
        if (httpRoutes(req, res)) return;
        connectHandler(req, res);
      };
      // Everything but /health waits for a clock step /init started, so nothing runs on stale time.
      const step = clock.pending;
      if (step && !req.url?.startsWith("/health")) void step.then(route);
      else route();
    },
    startPortForwarding(envdPort) {
      const forwarder = new PortForwarder({
        excludedPorts: [envdPort],
        addresses: config.forwardAddresses ? () => config.forwardAddresses ?? [] : undefined,
        intervalMs: config.portScanIntervalMs,
        logger: context.logger,
      });
      forwarder.start();
      return forwarder;
    },
    close() {
      clock.close();
      context.metadata.close();
      filesystem.closeAll();
      processes.killAll();
    },
  };
}
