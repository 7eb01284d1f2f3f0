import {
  WrennError as CatalogueError,
  type WrennErrorOptions as CatalogueErrorOptions,
  type ClientErrorCode,
  ErrorCodes,
  errorCodeForHttpStatus,
} from "@wrenn/common/errors";
import { connectCodeName, errorCodeOfConnectName, isConnectError } from "./connect-codes.ts";

/**
 * The codes a {@link WrennError} carries, from Wrenn's one error catalogue (`@wrenn/common`,
 * bundled in): the first nine are the control plane's closed set (its `{code}` body);
 * `deadline_exceeded` is a request or command that ran out of time, `command_failed` a command
 * that exited non-zero.
 */
export type ErrorCode = ClientErrorCode;

/** Options every error of the SDK accepts. */
export type WrennErrorOptions = Pick<CatalogueErrorOptions, "status" | "cause">;

/**
 * Base class of every error the SDK throws: `code` tells what went wrong,
 * `status` is the HTTP status when a server answered. It is the catalogue's class itself,
 * typed with every code a client can see.
 *
 * @example
 * ```ts
 * try {
 *   await Sandbox.connect("sb-…");
 * } catch (err) {
 *   if (err instanceof WrennError) console.error(err.code, err.message);
 * }
 * ```
 */
export const WrennError = CatalogueError as new (
  code: ErrorCode,
  message: string,
  options?: WrennErrorOptions,
) => CatalogueError<ErrorCode>;

/** An error the SDK throws; see the {@link WrennError} class. */
export type WrennError = CatalogueError<ErrorCode>;

/** The `code` option of a class with several codes; a class with one code has none. */
type CodeOption<C extends readonly ErrorCode[]> = C extends readonly [ErrorCode]
  ? Record<never, never>
  : { code?: C[number] | undefined };

/**
 * The one shape of the typed errors: a {@link WrennError} named `name` whose code is the
 * first of `codes` unless the `code` option picks another of them. Each exported class
 * below extends one of these, so `instanceof` and `name` work as for hand-written classes.
 */
function typedError<const C extends readonly [ErrorCode, ...ErrorCode[]]>(name: string, ...codes: C) {
  return class extends WrennError {
    override name = name;
    constructor(message: string, options?: WrennErrorOptions & CodeOption<C>) {
      const chosen = (options as { code?: ErrorCode } | undefined)?.code;
      super(chosen !== undefined && codes.includes(chosen) ? chosen : codes[0], message, options);
    }
  };
}

/** The sandbox, file, process or other resource does not exist (or belongs to another team). */
export class NotFoundError extends typedError("NotFoundError", "not_found") {}

/** The API key is missing, malformed or revoked, or the caller lacks permission. */
export class AuthenticationError extends typedError(
  "AuthenticationError",
  "unauthenticated",
  "permission_denied",
) {}

/** A parameter was rejected; the message names it. */
export class InvalidArgumentError extends typedError("InvalidArgumentError", "invalid_argument") {}

/** The resource already exists (e.g. a snapshot name taken). */
export class ConflictError extends typedError("ConflictError", "already_exists", "failed_precondition") {}

/** The resource is in the wrong state for the action (e.g. pausing a paused sandbox). */
export class FailedPreconditionError extends ConflictError {
  override name = "FailedPreconditionError";
  constructor(message: string, options?: WrennErrorOptions) {
    super(message, { ...options, code: "failed_precondition" });
  }
}

/** Too many requests or a quota is used up; retry later. */
export class RateLimitError extends typedError("RateLimitError", "resource_exhausted") {}

/** A request or a command did not finish within its timeout. */
export class TimeoutError extends typedError("TimeoutError", "deadline_exceeded") {}

/**
 * The platform could not do it: no host available, the sandbox's host or
 * envd unreachable, or an internal error (`code` is `unavailable` or `internal`).
 */
export class SandboxError extends typedError("SandboxError", "internal", "unavailable") {}

/** What a finished foreground command produced. */
export interface CommandResult {
  /** The process's exit code (-1 when a signal ended it). */
  exitCode: number;
  /** Everything it wrote to stdout, decoded as UTF-8. */
  stdout: string;
  /** Everything it wrote to stderr, decoded as UTF-8. */
  stderr: string;
  /** envd's explanation when the process could not run or was killed by a signal. */
  error?: string | undefined;
}

/**
 * A command exited with a non-zero code; the full result is attached.
 *
 * @example
 * ```ts
 * try {
 *   await sandbox.commands.run("exit 3");
 * } catch (err) {
 *   if (err instanceof CommandExitError) console.log(err.exitCode, err.stderr);
 * }
 * ```
 */
export class CommandExitError extends WrennError implements CommandResult {
  override name = "CommandExitError";
  /** The result of the command (same fields as on this error). */
  readonly result: CommandResult;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly error: string | undefined;

  constructor(result: CommandResult) {
    super(
      "command_failed",
      `command exited with code ${result.exitCode}${result.error ? `: ${result.error}` : ""}`,
    );
    this.result = result;
    this.exitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
    this.error = result.error;
  }
}

/**
 * The code an error body names: one of the closed set, or one of Connect's names (envd's unary
 * error bodies: `aborted`, `out_of_range`, `deadline_exceeded`…) read through the catalogue.
 * Connect names with no meaning of ours (`unknown`, `canceled`…) leave the status to decide.
 */
function codeOfName(name: string): ErrorCode | undefined {
  if ((ErrorCodes as readonly string[]).includes(name)) return name as ErrorCode;
  const code = errorCodeOfConnectName(name);
  return code === "internal" ? undefined : code;
}

/** The one table from a code to the error class that represents it. */
export function errorForCode(code: ErrorCode, message: string, options: WrennErrorOptions = {}): WrennError {
  switch (code) {
    case "not_found":
      return new NotFoundError(message, options);
    case "unauthenticated":
    case "permission_denied":
      return new AuthenticationError(message, { ...options, code });
    case "invalid_argument":
      return new InvalidArgumentError(message, options);
    case "already_exists":
      return new ConflictError(message, options);
    case "failed_precondition":
      return new FailedPreconditionError(message, options);
    case "resource_exhausted":
      return new RateLimitError(message, options);
    case "deadline_exceeded":
      return new TimeoutError(message, options);
    case "unavailable":
    case "internal":
      return new SandboxError(message, { ...options, code });
    default:
      return new WrennError(code, message, options);
  }
}

/**
 * Turns a failed HTTP answer into a typed error. The control plane's body is
 * `{code: "not_found", message}`; envd's is `{code: 404, message}`; the port proxy's
 * not-running answer is `{sandboxId, message, code: 502}`; anything else falls back to the status.
 */
export function errorFromHttp(status: number, body: string, context = "request"): WrennError {
  let parsed: { code?: unknown; message?: unknown } | undefined;
  try {
    const value: unknown = JSON.parse(body);
    if (value && typeof value === "object") parsed = value as typeof parsed;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the status decides.
  }
  const named = typeof parsed?.code === "string" ? codeOfName(parsed.code) : undefined;
  // The port proxy answers E2B's 502 `{sandboxId, message, code: 502}` for a sandbox that exists
  // but is not running (what the `e2b` SDK expects); for this SDK that is a failed precondition.
  const notRunning = status === 502 && typeof (parsed as { sandboxId?: unknown })?.sandboxId === "string";
  const code = named ?? (notRunning ? "failed_precondition" : errorCodeForHttpStatus(status)) ?? "internal";
  const message =
    typeof parsed?.message === "string" && parsed.message
      ? parsed.message
      : `${context} failed with HTTP ${status}${body && !parsed ? `: ${body.slice(0, 200)}` : ""}`;
  return errorForCode(code, message, { status });
}

/** Turns anything an envd RPC threw into a typed error (WrennErrors pass through). */
export function errorFromConnect(err: unknown, context = "envd request"): WrennError {
  if (err instanceof WrennError) return err;
  if (isConnectError(err)) {
    // A typed error raised inside the transport (see envd/rpc.ts) wins.
    if (err.cause instanceof WrennError) return err.cause;
    const name = connectCodeName(err.code);
    const code = (name && errorCodeOfConnectName(name)) ?? "internal";
    return errorForCode(code, err.rawMessage || `${context} failed (${name ?? err.code})`, { cause: err });
  }
  if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) {
    return new TimeoutError(`${context} was aborted: ${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SandboxError(`${context} failed: ${message}`, { code: "unavailable", cause: err });
}
