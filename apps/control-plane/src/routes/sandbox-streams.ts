import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { errors } from "@wrenn/common";
import { WebSocketServer } from "ws";
import type { AppEnv } from "../http/context.ts";
import { errorResponses, keyOrJwtSecurity } from "../http/openapi.ts";
import { credentialsOf, rejectWithError } from "../http/ws-auth.ts";
import { serveStream } from "../http/ws-peer.ts";
import { parseIdOrNotFound, tryParseId } from "../ids.ts";
import { parseProcessSelector } from "../services/sandbox-processes.ts";
import type {
  SandboxStreamsService,
  StreamHandlers,
  StreamPeer,
  StreamTarget,
} from "../services/sandbox-streams.ts";
import { MAX_CLIENT_MESSAGE_BYTES } from "../services/stream-messages.ts";
import type { WsTicketsService } from "../services/ws-tickets.ts";
import type { RouteDeps } from "./deps.ts";

type Opener = (target: StreamTarget, peer: StreamPeer) => StreamHandlers;

interface StreamRoute {
  pattern: RegExp;
  action: string;
  /** Validates the path's further parts (before the sandbox lookup) and picks the stream. */
  opener(streams: SandboxStreamsService, parts: string[]): Opener;
}

const routes: StreamRoute[] = [
  {
    pattern: /^\/v1\/sandboxes\/([^/]+)\/exec\/stream$/,
    action: "run commands in",
    opener: (streams) => (t, p) => streams.exec(t, p),
  },
  {
    pattern: /^\/v1\/sandboxes\/([^/]+)\/processes\/([^/]+)\/stream$/,
    action: "stream processes of",
    opener: (streams, [process]) => {
      const selector = parseProcessSelector(process ?? "");
      return (t, p) => streams.process(t, selector, p);
    },
  },
  {
    pattern: /^\/v1\/sandboxes\/([^/]+)\/pty$/,
    action: "open a terminal in",
    opener: (streams) => (t, p) => streams.pty(t, p),
  },
];

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw errors.notFound("sandbox not found");
  }
}

/** The `ticket` query parameter of an upgrade URL, if any. */
function ticketOf(url: string | undefined): string | undefined {
  const query = url?.split("?")[1];
  return query === undefined ? undefined : (new URLSearchParams(query).get("ticket") ?? undefined);
}

/**
 * The sandbox WebSocket routes (`exec/stream`, `processes/{process}/stream`, `pty`):
 * upgrades are authenticated like REST (API key or Bearer JWT), or by a single-use
 * `?ticket=` from `POST /v1/ws-tickets` (browsers cannot send headers), and the sandbox looked up
 * in the caller's team before the handshake, so a refusal is a plain HTTP error. The
 * same paths are GET routes in the OpenAPI document (a request without an upgrade is 400).
 */
export function registerSandboxStreamRoutes(
  app: OpenAPIHono<AppEnv>,
  deps: RouteDeps & { streams: SandboxStreamsService; tickets: WsTicketsService },
): void {
  const { log, streams, tickets } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  deps.upgrades.onClose(() => {
    for (const ws of wss.clients) ws.close(1001, "server shutting down");
    // Clients that do not answer the close handshake quickly are cut off.
    const timer = setTimeout(() => {
      for (const ws of wss.clients) ws.terminate();
    }, 1_000);
    timer.unref();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  deps.upgrades.add(async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    let route: StreamRoute | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of routes) {
      match = r.pattern.exec(path);
      if (match) {
        route = r;
        break;
      }
    }
    if (!route || !match) return false;
    // A reset while we look things up must not become an unhandled socket error.
    socket.on("error", () => socket.destroy());
    const started = performance.now();
    const done = (status: number) =>
      log.info(
        { method: req.method, path, status, ms: Math.round(performance.now() - started) },
        "websocket",
      );
    try {
      const [wireId = "", ...rest] = match.slice(1).map(decode);
      const ticket = ticketOf(req.url);
      // A ticket is spent even when the id is malformed, so a probe cannot keep it alive.
      const auth =
        ticket === undefined
          ? await deps.mw.authenticate(credentialsOf(req))
          : await tickets.redeem(ticket, tryParseId("sandbox", wireId) ?? "");
      const id = parseIdOrNotFound("sandbox", wireId, "sandbox");
      const open = route.opener(streams, rest);
      const target = await streams.open(auth, id, route.action);
      if (socket.destroyed) return true;
      wss.handleUpgrade(req, socket, head, (ws) => {
        done(101);
        serveStream(ws, (peer) => open(target, peer));
      });
    } catch (err) {
      done(rejectWithError(socket, err, log));
    }
    return true;
  });

  const mw = [deps.mw.requireAPIKeyOrJWT];
  const doc = (path: string, summary: string, description: string, params: z.ZodObject) =>
    app.openapi(
      createRoute({
        method: "get",
        path,
        tags: ["streams"],
        summary,
        description,
        security: keyOrJwtSecurity,
        middleware: mw,
        request: {
          params,
          query: z.object({
            ticket: z
              .string()
              .optional()
              .openapi({ description: "Single-use ticket from POST /v1/ws-tickets, instead of headers" }),
          }),
        },
        responses: {
          101: { description: "Switching Protocols: the WebSocket stream starts" },
          ...errorResponses(400, 401, 404, 409, 503),
        },
      }),
      () => {
        throw errors.invalidArgument(
          "this route is a WebSocket: send Connection: Upgrade and Upgrade: websocket",
        );
      },
    );
  const id = z.object({ id: z.string().openapi({ example: "sb-…" }) });
  doc(
    "/v1/sandboxes/{id}/exec/stream",
    "Run a command over a WebSocket (stdin in; stdout, stderr and exit out)",
    [
      "JSON text messages; `data` fields are base64.",
      'Client: first `{"type":"start","cmd","args"?,"envs"?,"cwd"?,"timeout_sec"?}` (without args, cmd runs under `/bin/bash -l -c`),',
      'then `{"type":"stdin","data"}`, `{"type":"close_stdin"}`, `{"type":"signal","signal":"SIGTERM"|"SIGKILL"}`.',
      'Server: `{"type":"started","pid"}`, `{"type":"stdout"|"stderr","data"}`, `{"type":"exit","exit_code","status"}` then close (1000);',
      '`{"type":"error","code","message"}` for a bad message (the stream stays open) or a failure (then close 1008/1011).',
      "Closing the WebSocket kills the command.",
    ].join(" "),
    id,
  );
  doc(
    "/v1/sandboxes/{id}/processes/{process}/stream",
    "Follow a running process (by pid or tag) over a WebSocket",
    [
      'Server: `{"type":"started","pid"}`, then output from now on as `{"type":"stdout"|"stderr","data"}` (base64),',
      'then `{"type":"exit","exit_code","status"}` and close. Client: `stdin`, `close_stdin` and `signal` messages as on exec/stream.',
      "Closing the WebSocket leaves the process running.",
    ].join(" "),
    id.extend({ process: z.string().openapi({ description: "pid or tag" }) }),
  );
  doc(
    "/v1/sandboxes/{id}/pty",
    "Open or reconnect to a terminal over a WebSocket",
    [
      'Client: first `{"type":"start","tag"?,"cols","rows","cmd"?}`, then `{"type":"input","data"}` (base64),',
      '`{"type":"resize","cols","rows"}`, `{"type":"kill"}`. Server: `{"type":"started","tag","pid","reconnected"}`,',
      '`{"type":"output","data"}`, `{"type":"exit","exit_code"}` then close, `{"type":"error","code","message"}`.',
      "Closing the WebSocket leaves the terminal running: start again with the same tag to reconnect.",
      "A terminal with no client and no input or output for 120 s is killed.",
    ].join(" "),
    id,
  );
}
