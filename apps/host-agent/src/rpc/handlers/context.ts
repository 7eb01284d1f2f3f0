import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "@wrenn/common";
import type { HostAgentService } from "@wrenn/proto";
import type { MetricsRegistry } from "../../metrics/index.ts";
import type { SandboxManager } from "../../sandbox/manager.ts";
import type { TemplateOperations } from "../../sandbox/template-ops.ts";
import { toConnectError } from "../errors.ts";
import type { PtySessions } from "../pty-sessions.ts";

/** What the RPC service delegates to. */
export interface ServiceDeps {
  manager: SandboxManager;
  templates: TemplateOperations;
  metrics?: MetricsRegistry | undefined;
  logger: Logger;
  /** Terminal bookkeeping (idle kill of detached sessions); default: `createPtySessions`. */
  ptySessions?: PtySessions | undefined;
}

/** The methods of `hostagent.v1.HostAgentService` named `M`: what one area's module implements. */
export type HandlersOf<M extends keyof ServiceImpl<typeof HostAgentService>> = Pick<
  ServiceImpl<typeof HostAgentService>,
  M
>;

/** Wraps handlers so anything they throw reaches the caller through one error table ({@link toConnectError}). */
export interface ErrorMapping {
  /** A unary (or client-streaming) handler. */
  unary<I, O>(
    method: string,
    handler: (req: I, ctx: HandlerContext) => Promise<O> | O,
  ): (req: I, ctx: HandlerContext) => Promise<O>;
  /** A server-streaming handler: errors thrown while streaming are mapped too. */
  streaming<I, O>(
    method: string,
    handler: (req: I, ctx: HandlerContext) => AsyncIterable<O>,
  ): (req: I, ctx: HandlerContext) => AsyncGenerator<O>;
}

/** The {@link ErrorMapping} that logs causes to `logger`. */
export function errorMapping(logger: Logger): ErrorMapping {
  return {
    unary: (method, handler) => async (req, ctx) => {
      try {
        return await handler(req, ctx);
      } catch (err) {
        throw toConnectError(err, logger, method);
      }
    },
    streaming: (method, handler) =>
      async function* (req, ctx) {
        try {
          yield* handler(req, ctx);
        } catch (err) {
          throw toConnectError(err, logger, method);
        }
      },
  };
}
