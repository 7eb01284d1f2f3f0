import "@xterm/xterm/css/xterm.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal as XTerm } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../../../api/client.ts";
import { createWsTicket } from "../../../api/sandboxes.ts";
import { Badge, Button } from "../../../ui/index.ts";
import {
  type ConnectionStatus,
  FatalConnectionError,
  type SocketLike,
  sessionTagStore,
  TerminalConnection,
} from "./connection.ts";

/** The `wss://…/v1/sandboxes/{id}/pty?ticket=…` URL for a fresh single-use ticket. */
async function ptyUrl(sandboxId: string): Promise<string> {
  try {
    const { ticket } = await createWsTicket(sandboxId);
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${window.location.host}/v1/sandboxes/${encodeURIComponent(sandboxId)}/pty?ticket=${encodeURIComponent(ticket)}`;
  } catch (err) {
    // 4xx: the sandbox is gone, not running or not ours — retrying cannot help.
    if (err instanceof ApiError && err.status >= 400 && err.status < 500)
      throw new FatalConnectionError(err.message);
    throw err;
  }
}

function statusBadge(s: ConnectionStatus) {
  switch (s.kind) {
    case "connected":
      return <Badge tone="green">{s.reconnected ? "Reconnected" : "Connected"}</Badge>;
    case "connecting":
      return <Badge tone="blue">Connecting…</Badge>;
    case "reconnecting":
      return <Badge tone="yellow">Reconnecting in {Math.ceil(s.inMs / 1000)} s</Badge>;
    case "exited":
      return <Badge tone="grey">Exited ({s.exitCode ?? "killed"})</Badge>;
    case "failed":
      return <Badge tone="red">Disconnected</Badge>;
  }
}

/**
 * An xterm.js terminal attached to the sandbox's shell. The session's tag lives in this tab's
 * sessionStorage: a reload or a network drop re-attaches to the same shell (its processes and
 * working directory intact) instead of starting a new one.
 */
export function SandboxTerminal({ sandboxId }: { sandboxId: string }) {
  const host = useRef<HTMLDivElement>(null);
  const conn = useRef<TerminalConnection | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>({ kind: "connecting", attempt: 1 });

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = new XTerm({
      cursorBlink: true,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
      fontSize: 14,
      scrollback: 5000,
      theme: { background: "#0b0d10" },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    const connection = new TerminalConnection({
      sandboxId,
      openUrl: () => ptyUrl(sandboxId),
      // The DOM WebSocket has these members with narrower event types.
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      tags: sessionTagStore(sessionStorage),
      size: () => ({ cols: term.cols, rows: term.rows }),
      onOutput: (bytes) => term.write(bytes),
      onStatus: setStatus,
    });
    conn.current = connection;
    const input = term.onData((d) => connection.input(d));
    const resized = term.onResize(({ cols, rows }) => connection.resize(cols, rows));
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // Hidden (zero-size) container: nothing to fit until it is shown again.
      }
    });
    observer.observe(el);
    const online = () => connection.reconnectNow();
    window.addEventListener("online", online);
    connection.start();
    term.focus();
    return () => {
      window.removeEventListener("online", online);
      observer.disconnect();
      input.dispose();
      resized.dispose();
      connection.dispose();
      conn.current = null;
      term.dispose();
    };
  }, [sandboxId]);

  return (
    <section aria-label="Terminal" data-testid="terminal">
      <div className="term-status">
        <span data-testid="terminal-status" data-status={status.kind}>
          {statusBadge(status)}
        </span>
        {status.kind === "connected" ? (
          <span className="muted small" data-testid="terminal-tag">
            session {status.tag}
          </span>
        ) : null}
        {status.kind === "failed" ? <span className="form-error">{status.message}</span> : null}
        {status.kind !== "connected" ? (
          <Button size="sm" onClick={() => conn.current?.reconnectNow()} data-testid="terminal-reconnect">
            {status.kind === "exited" ? "New session" : "Reconnect now"}
          </Button>
        ) : (
          <Button size="sm" variant="ghost" onClick={() => conn.current?.kill()}>
            End session
          </Button>
        )}
      </div>
      <div className="terminal-box" ref={host} />
    </section>
  );
}
