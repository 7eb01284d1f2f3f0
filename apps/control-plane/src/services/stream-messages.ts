import type { ErrorCode } from "@wrenn/common";
import { z } from "zod";

// The JSON message protocols of the sandbox WebSocket streams (see the README's
// "WebSocket streams"). Every client message is validated here; a malformed one is
// answered with an `error` message and never reaches the agent.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Largest client message the server reads (a stdin / input chunk is at most ~¾ of it). */
export const MAX_CLIENT_MESSAGE_BYTES = 1024 * 1024;

const base64Data = z.string().max(MAX_CLIENT_MESSAGE_BYTES).regex(BASE64, "must be base64");
const envs = z
  .record(z.string().min(1).max(128), z.string().max(4096))
  .refine((m) => Object.keys(m).length <= 256, "at most 256 environment variables");
const signal = z.enum(["SIGTERM", "SIGKILL"]);
const size = (field: string) =>
  z
    .number({ error: `${field} must be a number` })
    .int()
    .min(1)
    .max(1000);

/** A terminal tag: chosen by clients to reconnect, so an allow-list keeps it printable. */
export const PTY_TAG = /^[A-Za-z0-9._-]{1,64}$/;

/** A guest user name (POSIX portable, as `useradd` accepts): commands run as that user. */
export const GUEST_USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The optional `user` field of commands: the sandbox's default user when absent. */
export const guestUser = z.string().regex(GUEST_USER, "must be a user name such as user or root").optional();

const stdinMessage = z.strictObject({ type: z.literal("stdin"), data: base64Data });
const closeStdinMessage = z.strictObject({ type: z.literal("close_stdin") });
const signalMessage = z.strictObject({ type: z.literal("signal"), signal });

const execStart = z.strictObject({
  type: z.literal("start"),
  cmd: z.string().min(1).max(100_000),
  args: z.array(z.string().max(100_000)).max(1000).optional(),
  envs: envs.optional(),
  cwd: z.string().max(4096).optional(),
  user: guestUser,
  timeout_sec: z.number().int().min(1).max(86_400).optional(),
});

/** Client → server on `exec/stream`: `start` first, then stdin, close_stdin, signal. */
export const ExecClientMessage = z.discriminatedUnion("type", [
  execStart,
  stdinMessage,
  closeStdinMessage,
  signalMessage,
]);
/** A parsed `exec/stream` client message. */
export type ExecClientMessage = z.infer<typeof ExecClientMessage>;

/** Client → server on `processes/{pid|tag}/stream`: no start; stdin, close_stdin, signal. */
export const ProcessClientMessage = z.discriminatedUnion("type", [
  stdinMessage,
  closeStdinMessage,
  signalMessage,
]);
/** A parsed process-stream client message. */
export type ProcessClientMessage = z.infer<typeof ProcessClientMessage>;

/** Client → server on `pty`: `start` first, then input, resize, kill. */
export const PtyClientMessage = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("start"),
    tag: z.string().regex(PTY_TAG, "must be 1-64 of A-Z a-z 0-9 . _ -").optional(),
    cols: size("cols"),
    rows: size("rows"),
    cmd: z.string().min(1).max(100_000).optional(),
  }),
  z.strictObject({ type: z.literal("input"), data: base64Data }),
  z.strictObject({ type: z.literal("resize"), cols: size("cols"), rows: size("rows") }),
  z.strictObject({ type: z.literal("kill") }),
]);
/** A parsed PTY client message. */
export type PtyClientMessage = z.infer<typeof PtyClientMessage>;

/** Server → client messages of every stream. */
export type ServerMessage =
  | { type: "started"; pid: number }
  | { type: "started"; tag: string; pid: number; reconnected: boolean }
  | { type: "stdout" | "stderr" | "output"; data: string }
  | { type: "exit"; exit_code: number | null; status?: string }
  | { type: "error"; code: ErrorCode; message: string };

/** The outcome of parsing one client message: the message, or a client-safe reason. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

/**
 * Parses one WebSocket message against `schema`. Binary frames, bad JSON, unknown
 * types and wrong fields are reasons naming the problem (first few issues), never throws.
 */
export function parseClientMessage<T>(
  schema: z.ZodType<T>,
  raw: string | Buffer,
  isBinary: boolean,
): Parsed<T> {
  if (isBinary) return { ok: false, error: "messages must be JSON text frames" };
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return { ok: false, error: "message is not valid JSON" };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, message: result.data };
  const error = result.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "message"}: ${i.message}`)
    .join("; ");
  return { ok: false, error };
}

/** The bytes of a validated base64 `data` field. */
export function decodeData(data: string): Buffer {
  return Buffer.from(data, "base64");
}

/** Base64 of output bytes. */
export function encodeData(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
