import { errorFromHttp } from "@wrenn/sdk";
import type WebSocket from "ws";
import { ApiError } from "./rest.ts";

/** The `start` message of `GET /v1/sandboxes/{id}/exec/stream` (without `args`: a bash script). */
export interface ExecStart {
  cmd: string;
  args?: string[] | undefined;
  envs?: Record<string, string> | undefined;
  cwd?: string | undefined;
  user?: string | undefined;
  timeout_sec?: number | undefined;
}

/** Receives the command's output bytes; a returned promise holds further output until it settles. */
export interface ExecOutput {
  onStdout(data: Buffer): void | Promise<void>;
  onStderr(data: Buffer): void | Promise<void>;
}

/** How the command ended: its exit code, or null with the server's reason (`timed out`, a signal). */
export interface ExecExit {
  exitCode: number | null;
  status?: string | undefined;
}

/** Where the stream is and with which key (the CLI's saved login). */
export interface StreamConnection {
  apiUrl: string;
  apiKey: string;
}

/** A stdin message carries at most this much (base64 makes it 4/3 larger; the server takes 1 MiB). */
const STDIN_CHUNK_BYTES = 512 * 1024;

type ServerMessage =
  | { type: "started"; pid: number }
  | { type: "stdout" | "stderr"; data: string }
  | { type: "exit"; exit_code: number | null; status?: string }
  | { type: "error"; code: string; message: string };

/** A promise with its settle functions (Node 20 has no `Promise.withResolvers`). */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * One command run over the control plane's exec WebSocket: output arrives as raw bytes (base64
 * on the wire, never decoded as text), stdin goes the other way, and closing the socket kills
 * the command. Errors are the SDK's typed errors (a refused upgrade answers like REST) or an
 * {@link ApiError} with the stream's error code, so the CLI's exit-code table applies.
 */
export class ExecStream {
  /** The command's pid in the sandbox. */
  readonly pid: number;
  /** Settles when the command exits, or rejects when the stream fails first. */
  readonly exited: Promise<ExecExit>;

  private constructor(
    private readonly ws: WebSocket,
    pid: number,
    exited: Promise<ExecExit>,
  ) {
    this.pid = pid;
    this.exited = exited;
  }

  /** Opens the stream, starts the command and resolves once it runs. */
  static async open(
    conn: StreamConnection,
    sandboxId: string,
    start: ExecStart,
    output: ExecOutput,
  ): Promise<ExecStream> {
    // Loaded here, not with the module: every `wrenn sandbox …` command loads this file, and
    // only `exec` needs the WebSocket client (a few ms of start-up the others would pay).
    const { default: WebSocketClient } = await import("ws");
    const url = `${conn.apiUrl.replace(/^http/, "ws")}/v1/sandboxes/${encodeURIComponent(sandboxId)}/exec/stream`;
    const ws = new WebSocketClient(url, { headers: { "x-api-key": conn.apiKey }, perMessageDeflate: false });
    const started = deferred<number>();
    const exited = deferred<ExecExit>();
    // Settling twice is a no-op: a failure after the start only reaches `exited`.
    const fail = (err: unknown) => {
      started.reject(err);
      exited.reject(err);
    };
    exited.promise.catch(() => undefined); // a failed open() already reported this error
    let lastError: { code: string; message: string } | undefined;
    let done = false;
    let holding = 0;

    ws.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        fail(errorFromHttp(res.statusCode ?? 0, Buffer.concat(chunks).toString(), "exec stream"));
        ws.terminate();
      });
    });
    ws.on("error", (err) => {
      // Keep the socket error (ECONNREFUSED …) for the exit-code table, and say where.
      fail(Object.assign(err, { url: conn.apiUrl }));
    });
    ws.on("open", () => ws.send(JSON.stringify({ type: "start", ...start })));
    ws.on("message", (raw: Buffer, isBinary) => {
      let m: ServerMessage;
      try {
        if (isBinary) throw new Error("binary frame");
        m = JSON.parse(raw.toString("utf8")) as ServerMessage;
      } catch {
        fail(new ApiError(0, "internal", "the exec stream sent a message that is not JSON"));
        ws.terminate();
        return;
      }
      if (m.type === "started") started.resolve(m.pid);
      else if (m.type === "stdout" || m.type === "stderr") {
        const held = (m.type === "stdout" ? output.onStdout : output.onStderr)(Buffer.from(m.data, "base64"));
        if (held) {
          // A full stdout pipe slows the socket down instead of buffering without bound.
          if (holding++ === 0) ws.pause();
          void held.finally(() => {
            if (--holding === 0) ws.resume();
          });
        }
      } else if (m.type === "exit") {
        done = true;
        exited.resolve({ exitCode: m.exit_code, status: m.status });
        ws.close(1000);
      } else if (m.type === "error") lastError = m;
    });
    ws.on("close", (code, reason) => {
      if (done) return;
      const why = reason.toString() || `WebSocket closed with code ${code}`;
      fail(
        lastError
          ? new ApiError(0, lastError.code, lastError.message)
          : new ApiError(0, "unavailable", `the exec stream ended before the command exited (${why})`),
      );
    });
    return started.promise.then((pid) => new ExecStream(ws, pid, exited.promise));
  }

  /** Sends stdin bytes; resolves once they are on the socket (the caller's backpressure). */
  async sendStdin(data: Uint8Array): Promise<void> {
    for (let at = 0; at < data.byteLength; at += STDIN_CHUNK_BYTES) {
      const part = Buffer.from(
        data.buffer,
        data.byteOffset + at,
        Math.min(STDIN_CHUNK_BYTES, data.byteLength - at),
      );
      await new Promise<void>((resolve, reject) =>
        this.ws.send(JSON.stringify({ type: "stdin", data: part.toString("base64") }), (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
  }

  /** End of input: the command reads EOF. */
  closeStdin(): void {
    this.send({ type: "close_stdin" });
  }

  /** Sends SIGTERM or SIGKILL to the command. */
  signal(signal: "SIGTERM" | "SIGKILL"): void {
    this.send({ type: "signal", signal });
  }

  /** Closes the stream (which kills the command if it still runs); resolves when closed. */
  close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.resume(); // output held for a full stdout must not hold up the closing handshake
      this.ws.close(1000);
    });
  }

  /** Drops the connection at once, without a closing handshake (the server kills the command). */
  terminate(): void {
    this.ws.terminate();
  }

  private send(message: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}
