import { randomBytes } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errors } from "@wrenn/common";
import { type EntryInfo, type ProcessEvent as EnvdProcessEvent, hostagent } from "@wrenn/proto";
import type { EnvdClient, GuestCommand } from "../envd-client/client.ts";

type FileEntryInit = MessageInitShape<typeof hostagent.FileEntrySchema>;
type ProcessEventInit = MessageInitShape<typeof hostagent.ProcessEventSchema>;

/** Default limit for a foreground Exec whose request names none. */
export const DEFAULT_EXEC_TIMEOUT_SEC = 300;

/** Converts an envd entry to the agent's FileEntry. */
export function toFileEntry(entry: EntryInfo | undefined): FileEntryInit | undefined {
  if (!entry) return undefined;
  return {
    name: entry.name,
    path: entry.path,
    type: entry.type as number,
    sizeBytes: entry.size,
    mode: entry.mode,
    permissions: entry.permissions,
    owner: entry.owner,
    group: entry.group,
    modifiedAt: entry.modifiedTime,
    symlinkTarget: entry.symlinkTarget,
  };
}

/** The guest command of a request (validated: a command is required). */
export function toGuestCommand(cmd: hostagent.Command | undefined, tag?: string): GuestCommand {
  if (!cmd?.cmd) throw errors.invalidArgument("command.cmd is required");
  return {
    cmd: cmd.cmd,
    args: cmd.args,
    envs: cmd.envs,
    cwd: cmd.cwd,
    user: cmd.user,
    tag: tag || undefined,
  };
}

/** Maps one envd process event to the agent's ProcessEvent (keep-alives map to nothing). */
export function toProcessEvent(event: EnvdProcessEvent): ProcessEventInit | undefined {
  const inner = event.event;
  switch (inner.case) {
    case "start":
      return { event: { case: "started", value: { pid: inner.value.pid } } };
    case "data":
      if (inner.value.output.case === "stdout")
        return { event: { case: "stdout", value: inner.value.output.value } };
      if (inner.value.output.case === "stderr")
        return { event: { case: "stderr", value: inner.value.output.value } };
      if (inner.value.output.case === "pty")
        return { event: { case: "stdout", value: inner.value.output.value } };
      return undefined;
    case "end":
      return {
        event: {
          case: "ended",
          value: {
            exitCode: inner.value.exitCode,
            exited: inner.value.exited,
            status: inner.value.status,
            error: inner.value.error ?? "",
          },
        },
      };
    default:
      return undefined;
  }
}

/** envd's process selector for an agent selector (pid or tag). */
export function toEnvdSelector(
  sel: hostagent.ProcessSelector | undefined,
): MessageInitShape<typeof import("@wrenn/proto").ProcessSelectorSchema> {
  const selector = sel?.selector;
  if (selector?.case === "pid" && selector.value > 0)
    return { selector: { case: "pid", value: selector.value } };
  if (selector?.case === "tag" && selector.value) return { selector: { case: "tag", value: selector.value } };
  throw errors.invalidArgument("a process pid or tag is required");
}

/** A tag selector, validated. */
export function tagSelector(tag: string): { selector: { case: "tag"; value: string } } {
  if (!tag) throw errors.invalidArgument("tag is required");
  return { selector: { case: "tag", value: tag } };
}

/** Unspecified signals mean SIGKILL; the numbers equal envd's. */
export function toEnvdSignal(signal: hostagent.Signal): number {
  return signal === hostagent.Signal.SIGTERM ? 15 : 9;
}

/** Runs a foreground command with a time limit, or starts a background one. */
export async function exec(envd: EnvdClient, req: hostagent.ExecRequest) {
  const command = toGuestCommand(req.command, req.tag);
  if (req.background) {
    const pid = await envd.startBackground(command);
    return { pid };
  }
  const result = await envd.exec(command, (req.timeoutSec || DEFAULT_EXEC_TIMEOUT_SEC) * 1000);
  if (result.timedOut && result.pid > 0)
    await killQuietly(envd, { selector: { case: "pid", value: result.pid } });
  return {
    pid: result.pid,
    exitCode: result.timedOut ? undefined : result.exitCode,
    stdout: result.stdout,
    stderr: result.stderr,
    timedOut: result.timedOut,
    error: result.error,
  };
}

/**
 * Streams a command's events; a cancelled call or the timeout kills the command.
 * With `stdin` the command's stdin stays open for SendProcessInput / CloseProcessStdin.
 */
export async function* execStream(envd: EnvdClient, req: hostagent.ExecStreamRequest, signal: AbortSignal) {
  const command = toGuestCommand(req.command);
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal.addEventListener("abort", onAbort);
  const timer = req.timeoutSec > 0 ? setTimeout(onAbort, req.timeoutSec * 1000) : undefined;
  let pid = 0;
  let ended = false;
  try {
    for await (const event of envd.start(command, controller.signal, req.stdin)) {
      if (event.event.case === "start") pid = event.event.value.pid;
      if (event.event.case === "end") ended = true;
      const mapped = toProcessEvent(event);
      if (mapped) yield { event: mapped };
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    if (!signal.aborted) throw new ConnectError("command timed out", Code.DeadlineExceeded);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    if (!ended && pid > 0) await killQuietly(envd, { selector: { case: "pid", value: pid } });
  }
}

async function killQuietly(
  envd: EnvdClient,
  process: MessageInitShape<typeof import("@wrenn/proto").ProcessSelectorSchema>,
) {
  await envd.process.sendSignal({ process, signal: 9 }, { headers: envd.headers("root") }).catch(() => {});
}

/** Maps an envd HTTP error answer to a client-safe error. */
export function envdHttpError(status: number, body: Buffer): ConnectError {
  let message = `envd answered ${status}`;
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { message?: unknown };
    if (typeof parsed.message === "string") message = parsed.message;
  } catch {
    // Not JSON: keep the generic message.
  }
  const code =
    status === 400
      ? Code.InvalidArgument
      : status === 401
        ? Code.Unauthenticated
        : status === 403
          ? Code.PermissionDenied
          : status === 404
            ? Code.NotFound
            : status === 409
              ? Code.FailedPrecondition
              : status === 507
                ? Code.ResourceExhausted
                : Code.Internal;
  return new ConnectError(message, code);
}

/** envd's `/files` path and query for a guest path, validated. */
export function filesPath(path: string, user: string): string {
  if (!path) throw errors.invalidArgument("path is required");
  const q = new URLSearchParams({ path });
  if (user) q.set("username", user);
  return `/files?${q}`;
}

/** Reads a whole guest file through envd's `GET /files`. */
export async function readFile(envd: EnvdClient, path: string, user: string): Promise<Buffer> {
  const res = await envd.http("GET", filesPath(path, user), undefined, 120_000);
  if (res.status !== 200) throw envdHttpError(res.status, res.body);
  return res.body;
}

/** Writes a whole guest file through envd's multipart `POST /files`, then stats it. */
export async function writeFile(envd: EnvdClient, path: string, user: string, content: Uint8Array) {
  const boundary = `wrenn${randomBytes(12).toString("hex")}`;
  const name = path.split("/").pop() || "file";
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name.replaceAll('"', "")}"\r\n` +
        "Content-Type: application/octet-stream\r\n\r\n",
    ),
    Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await envd.http("POST", filesPath(path, user), body, 120_000, {
    "content-type": `multipart/form-data; boundary=${boundary}`,
  });
  if (res.status < 200 || res.status >= 300) throw envdHttpError(res.status, res.body);
  const stat = await envd.filesystem.stat({ path }, { headers: envd.headers(user) });
  return toFileEntry(stat.entry);
}
