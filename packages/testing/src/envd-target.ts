import { createHash } from "node:crypto";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Filesystem, Process, type ProcessEvent } from "@wrenn/proto";

/** An envd under test: where it is and how the suite reaches what it needs. */
export interface EnvdTarget {
  /** Base URL of envd's API, e.g. `http://127.0.0.1:49983`. */
  baseUrl: string;
  /** A directory inside envd's machine the suite may use (created by the suite as root). */
  scratchDir: string;
  /** Home directory of the account `user` on envd's machine. */
  userHome: string;
  /** Resident memory of the envd process, in KiB (measuring may need envd's access token). */
  envdRssKb(accessToken?: string): Promise<number>;
  /** A port inside envd's machine and the URL where a localhost-only server on it becomes reachable. */
  forwardedPort: { guestPort: number; url: string };
  /** Whether /init may set the clock on this machine (only inside a VM). */
  clockSync: boolean;
}

/** The shared state of one suite run: the token the suite set with /init. */
export interface SuiteSession {
  target: EnvdTarget;
  accessToken: string;
}

/** Options for {@link envdClients}. */
export interface ClientOptions {
  /** Sent as `Authorization: Basic base64(user:)`; omitted when undefined (envd's default user). */
  user?: string;
  /** Access token; `null` sends none. Defaults to the session's. */
  token?: string | null;
  httpVersion?: "1.1" | "2";
  headers?: Record<string, string>;
}

/** Typed Connect clients for envd's two services. */
export interface EnvdClients {
  process: Client<typeof Process>;
  filesystem: Client<typeof Filesystem>;
}

/** Connect clients for the session's envd, with the chosen user, token and HTTP version. */
export function envdClients(session: SuiteSession, options: ClientOptions = {}): EnvdClients {
  const token = options.token === undefined ? session.accessToken : options.token;
  const addHeaders: Interceptor = (next) => (req) => {
    if (token !== null) req.header.set("X-Access-Token", token);
    if (options.user !== undefined) {
      req.header.set("Authorization", `Basic ${Buffer.from(`${options.user}:`).toString("base64")}`);
    }
    for (const [key, value] of Object.entries(options.headers ?? {})) req.header.set(key, value);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: session.target.baseUrl,
    httpVersion: options.httpVersion ?? "2",
    interceptors: [addHeaders],
  });
  return { process: createClient(Process, transport), filesystem: createClient(Filesystem, transport) };
}

/** Everything a finished process stream carried. */
export interface CollectedRun {
  pid: number;
  stdout: string;
  stderr: string;
  pty: string;
  keepalives: number;
  end: { exitCode: number; exited: boolean; status: string; error?: string } | undefined;
}

/** Reads a Start/Connect stream to its end (or until `until` says stop) and sums it up. */
export async function collect(
  events: AsyncIterable<{ event?: ProcessEvent }>,
  until?: (run: CollectedRun) => boolean,
): Promise<CollectedRun> {
  const run: CollectedRun = { pid: 0, stdout: "", stderr: "", pty: "", keepalives: 0, end: undefined };
  for await (const message of events) {
    const event = message.event?.event;
    if (event?.case === "start") run.pid = event.value.pid;
    else if (event?.case === "keepalive") run.keepalives++;
    else if (event?.case === "end") run.end = event.value;
    else if (event?.case === "data") {
      const output = event.value.output;
      if (output.case) run[output.case] += Buffer.from(output.value).toString("utf8");
    }
    if (until?.(run)) break;
  }
  return run;
}

/** Basic auth header value for a user, as the E2B SDK sends it. */
export function basicAuth(user: string): string {
  return `Basic ${Buffer.from(`${user}:`).toString("base64")}`;
}

/** Independent implementation of the E2B SDK's `/files` URL signature (for tests). */
export function signFilesUrl(
  path: string,
  operation: string,
  user: string,
  token: string,
  expiresAt?: number,
): string {
  const raw = `${path}:${operation}:${user}:${token}${expiresAt === undefined ? "" : `:${expiresAt}`}`;
  return `v1_${createHash("sha256").update(raw).digest("base64").replace(/=+$/, "")}`;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}
