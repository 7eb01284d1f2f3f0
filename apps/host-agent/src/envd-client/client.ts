import { request as httpRequest } from "node:http";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { errors } from "@wrenn/common";
import { Filesystem, Process, type ProcessEvent, StartRequestSchema } from "@wrenn/proto";

/** What the agent hands envd after every start and restore (`POST /init`). */
export interface EnvdInit {
  sandboxId: string;
  templateId: string;
  envVars: Record<string, string>;
  accessToken?: string | undefined;
  /** envd's user and working directory for requests that name none; unset keeps envd's. */
  defaultUser?: string | undefined;
  defaultWorkdir?: string | undefined;
}

/** A command to run in the guest. */
export interface GuestCommand {
  cmd: string;
  args?: string[];
  envs?: Record<string, string>;
  cwd?: string;
  user?: string;
  tag?: string;
}

/** The collected result of a foreground command. */
export interface ExecResult {
  pid: number;
  exitCode: number | undefined;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
  error: string;
}

/** An `/init` answer slower than this is repeated so the guest clock does not lag behind. */
const SLOW_INIT_MS = 1_000;

/** envd answered with an HTTP error status (as opposed to not answering at all). */
export class EnvdHttpError extends Error {
  override readonly name = "EnvdHttpError";
}

/**
 * A client for one sandbox's envd: HTTP health/init plus the Connect `Process`
 * and `Filesystem` services, always sending the sandbox's access token.
 */
export class EnvdClient {
  /** The Connect process service. */
  readonly process: Client<typeof Process>;
  /** The Connect filesystem service. */
  readonly filesystem: Client<typeof Filesystem>;
  private readonly baseUrl: string;

  constructor(
    readonly host: string,
    readonly port: number,
    private accessToken: string | undefined,
  ) {
    this.baseUrl = `http://${host}:${port}`;
    const transport = createConnectTransport({ baseUrl: this.baseUrl, httpVersion: "1.1" });
    this.process = createClient(Process, transport);
    this.filesystem = createClient(Filesystem, transport);
  }

  /** Headers for a call as `user` (envd's default user when empty). */
  headers(user?: string): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.accessToken) h["X-Access-Token"] = this.accessToken;
    if (user) h.Authorization = `Basic ${Buffer.from(`${user}:`).toString("base64")}`;
    return h;
  }

  /** One `GET /health` probe: resolves with envd's version when it answers 2xx, else undefined. */
  async health(timeoutMs = 1_000): Promise<{ version: string } | undefined> {
    const res = await this.http("GET", "/health", undefined, timeoutMs).catch(() => undefined);
    if (!res || res.status < 200 || res.status >= 300) return undefined;
    let version = "";
    try {
      version = String((JSON.parse(res.body.toString("utf8")) as { version?: unknown }).version ?? "");
    } catch {
      // Older envd answers 204 with no body.
    }
    return { version: version || "unknown" };
  }

  /** Polls `/health` until envd answers or `timeoutMs` passes; returns envd's version. */
  async waitHealthy(timeoutMs: number, isAlive: () => boolean = () => true): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    while (Date.now() < deadline) {
      if (!isAlive()) throw errors.internal("the VM exited before envd answered");
      const h = await this.health(Math.min(1_000, Math.max(50, deadline - Date.now())));
      if (h) return h.version;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 50);
    }
    throw errors.internal(`envd did not answer within ${timeoutMs} ms`);
  }

  /**
   * `POST /init`: identity, env vars, access token and the host's clock (the
   * guest clock stands still while a snapshot sits on disk).
   */
  async init(init: EnvdInit, timeoutMs = 10_000): Promise<void> {
    const body = JSON.stringify({
      envVars: init.envVars,
      accessToken: init.accessToken,
      timestamp: new Date().toISOString(),
      sandboxId: init.sandboxId,
      templateId: init.templateId,
      defaultUser: init.defaultUser,
      defaultWorkdir: init.defaultWorkdir,
    });
    const res = await this.http("POST", "/init", body, timeoutMs);
    if (res.status < 200 || res.status >= 300) {
      throw new EnvdHttpError(
        `envd /init answered ${res.status}: ${res.body.toString("utf8").slice(0, 200)}`,
      );
    }
    if (init.accessToken) this.accessToken = init.accessToken;
  }

  /**
   * `POST /init` as soon as envd accepts connections: after a restore the first
   * request pays for translating envd's code paths, so a separate health probe
   * first would pay twice. Retries only while nothing answers; an HTTP error
   * answer is final.
   */
  async initWhenReady(init: EnvdInit, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    for (;;) {
      if (!isAlive()) throw errors.internal("the VM exited before envd answered");
      try {
        const sent = Date.now();
        await this.init(init, Math.max(1_000, Math.min(30_000, deadline - Date.now())));
        // envd sets its clock to the timestamp we sent; a slow first answer (the guest
        // was still warming up) means the clock lags by that delay, so send it once more.
        if (Date.now() - sent > SLOW_INIT_MS) await this.init(init, 10_000);
        return;
      } catch (err) {
        if (err instanceof EnvdHttpError || Date.now() >= deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 50);
    }
  }

  /** Starts a command and streams its events; aborting `signal` ends the stream (envd kills the process). */
  async *start(command: GuestCommand, signal?: AbortSignal, stdin = false): AsyncIterable<ProcessEvent> {
    const req = create(StartRequestSchema, {
      process: {
        cmd: command.cmd,
        args: command.args ?? [],
        envs: command.envs ?? {},
        cwd: command.cwd || undefined,
      },
      tag: command.tag || undefined,
      stdin,
    });
    for await (const res of this.process.start(req, { headers: this.headers(command.user), signal })) {
      if (res.event) yield res.event;
    }
  }

  /** Runs a command to completion (killed after `timeoutMs`), collecting its output. */
  async exec(command: GuestCommand, timeoutMs: number): Promise<ExecResult> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const result: ExecResult = {
      pid: 0,
      exitCode: undefined,
      stdout: Buffer.alloc(0),
      stderr: Buffer.alloc(0),
      timedOut: false,
      error: "",
    };
    try {
      for await (const event of this.start(command, controller.signal)) {
        const e = event.event;
        if (e.case === "start") result.pid = e.value.pid;
        else if (e.case === "data" && e.value.output.case === "stdout")
          out.push(Buffer.from(e.value.output.value));
        else if (e.case === "data" && e.value.output.case === "stderr")
          err.push(Buffer.from(e.value.output.value));
        else if (e.case === "end") {
          result.exitCode = e.value.exitCode;
          result.error = e.value.error ?? "";
        }
      }
    } catch (e) {
      if (!controller.signal.aborted) throw e;
      result.timedOut = true;
    } finally {
      clearTimeout(timer);
    }
    result.stdout = Buffer.concat(out);
    result.stderr = Buffer.concat(err);
    return result;
  }

  /** Starts a command in the background and returns its pid once envd reports the start. */
  async startBackground(command: GuestCommand, timeoutMs = 30_000): Promise<number> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      for await (const event of this.start(command, controller.signal)) {
        if (event.event.case === "start") return event.event.value.pid;
      }
      throw errors.internal("envd ended the stream before the process started");
    } finally {
      clearTimeout(timer);
      // Leaving the stream only detaches: envd keeps background processes running.
      controller.abort();
    }
  }

  /** Raw HTTP call to envd (for `/files`, `/init`, `/health`). */
  http(
    method: string,
    path: string,
    body: string | Buffer | undefined,
    timeoutMs: number,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...this.headers(), ...extraHeaders };
      if (body !== undefined) {
        headers["content-length"] = String(Buffer.byteLength(body));
        headers["content-type"] ??= "application/json";
      }
      const req = httpRequest(
        { host: this.host, port: this.port, method, path, headers, timeout: timeoutMs, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`envd ${method} ${path} timed out`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}
