import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The codes a {@link WrennError} carries. The first nine are the control
 * plane's closed set (its `{code}` body); `deadline_exceeded` is a request or
 * command that ran out of time, `command_failed` a command that exited non-zero.
 */
export type ErrorCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "resource_exhausted"
  | "unavailable"
  | "internal"
  | "deadline_exceeded"
  | "command_failed";

/** Options every error of the SDK accepts. */
export interface WrennErrorOptions {
  /** HTTP status of the answer that caused it, when there was one. */
  status?: number | undefined;
  /** The underlying error (network failure, Connect error), for logs. */
  cause?: unknown;
}

/**
 * Base class of every error the SDK throws: `code` tells what went wrong,
 * `status` is the HTTP status when a server answered.
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
export class WrennError extends Error {
  override name = "WrennError";
  /** One of {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** HTTP status of the answer, when a server answered. */
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options: WrennErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}

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

const codeByName: Record<string, ErrorCode> = {
  invalid_argument: "invalid_argument",
  unauthenticated: "unauthenticated",
  permission_denied: "permission_denied",
  not_found: "not_found",
  already_exists: "already_exists",
  failed_precondition: "failed_precondition",
  resource_exhausted: "resource_exhausted",
  unavailable: "unavailable",
  internal: "internal",
  deadline_exceeded: "deadline_exceeded",
  // Connect's own names in envd's unary error bodies.
  aborted: "failed_precondition",
  out_of_range: "invalid_argument",
};

/** The code for an HTTP status when the body names none (envd sends numeric codes). */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 409:
      return "already_exists";
    case 408:
    case 504:
      return "deadline_exceeded";
    case 412:
      return "failed_precondition";
    case 429:
      return "resource_exhausted";
    case 502:
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

const codeByConnect: Partial<Record<Code, ErrorCode>> = {
  [Code.InvalidArgument]: "invalid_argument",
  [Code.OutOfRange]: "invalid_argument",
  [Code.Unauthenticated]: "unauthenticated",
  [Code.PermissionDenied]: "permission_denied",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.Aborted]: "failed_precondition",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.Unavailable]: "unavailable",
  [Code.DeadlineExceeded]: "deadline_exceeded",
};

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
 * `{code: "not_found", message}`; envd's is `{code: 404, message}`; anything
 * else falls back to the status.
 */
export function errorFromHttp(status: number, body: string, context = "request"): WrennError {
  let parsed: { code?: unknown; message?: unknown } | undefined;
  try {
    const value: unknown = JSON.parse(body);
    if (value && typeof value === "object") parsed = value as typeof parsed;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the status decides.
  }
  const named = typeof parsed?.code === "string" ? codeByName[parsed.code] : undefined;
  const code = named ?? codeForStatus(status);
  const message =
    typeof parsed?.message === "string" && parsed.message
      ? parsed.message
      : `${context} failed with HTTP ${status}${body && !parsed ? `: ${body.slice(0, 200)}` : ""}`;
  return errorForCode(code, message, { status });
}

/** Turns anything an envd RPC threw into a typed error (WrennErrors pass through). */
export function errorFromConnect(err: unknown, context = "envd request"): WrennError {
  if (err instanceof WrennError) return err;
  if (err instanceof ConnectError) {
    // A typed error raised inside the transport (see envd/transport.ts) wins.
    if (err.cause instanceof WrennError) return err.cause;
    const code = codeByConnect[err.code] ?? "internal";
    return errorForCode(code, err.rawMessage || `${context} failed (${Code[err.code]})`, { cause: err });
  }
  if (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError")) {
    return new TimeoutError(`${context} was aborted: ${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SandboxError(`${context} failed: ${message}`, { code: "unavailable", cause: err });
}
