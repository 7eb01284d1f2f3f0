/**
 * The closed set of error codes shared by every server boundary (REST, RPC, CLI).
 * Each code maps to exactly one HTTP status and one Connect code.
 */
export const ErrorCodes = [
  "invalid_argument",
  "unauthenticated",
  "permission_denied",
  "not_found",
  "already_exists",
  "failed_precondition",
  "resource_exhausted",
  "unavailable",
  "internal",
] as const;

/** One of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[number];

/**
 * Codes only a client raises (the SDK), never a server's `{code}` body: a request or command that
 * ran out of time, and a command that exited non-zero.
 */
export const ClientOnlyErrorCodes = ["deadline_exceeded", "command_failed"] as const;

/** Every code a client can see: the servers' closed set plus {@link ClientOnlyErrorCodes}. */
export type ClientErrorCode = ErrorCode | (typeof ClientOnlyErrorCodes)[number];

/** True when `code` is one of the servers' closed set ({@link ErrorCodes}). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return (ErrorCodes as readonly unknown[]).includes(code);
}

/** The one mapping from error code to HTTP status. */
export const httpStatusByCode: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  resource_exhausted: 429,
  unavailable: 503,
  internal: 500,
};

// Statuses that no code of ours answers with, but that proxies, envd and frameworks do.
const codeByForeignStatus: Record<number, ClientErrorCode> = {
  408: "deadline_exceeded",
  412: "failed_precondition",
  413: "invalid_argument",
  422: "invalid_argument",
  502: "unavailable",
  504: "deadline_exceeded",
};

// The reverse of httpStatusByCode; a status shared by two codes (409) means the first.
const codeByStatus = new Map<number, ClientErrorCode>();
for (const code of ErrorCodes) {
  if (!codeByStatus.has(httpStatusByCode[code])) codeByStatus.set(httpStatusByCode[code], code);
}
for (const [status, code] of Object.entries(codeByForeignStatus)) codeByStatus.set(Number(status), code);

/**
 * The code an HTTP status means when nothing else names one (a framework's error, a proxy's page,
 * envd's numeric codes); undefined for a status with no meaning of its own (e.g. 418).
 */
export function errorCodeForHttpStatus(status: number): ClientErrorCode | undefined {
  return codeByStatus.get(status);
}

/** What a {@link WrennError} may carry besides its code and message. */
export interface WrennErrorOptions {
  /** The underlying error, for logs only: never serialized. */
  cause?: unknown;
  /** Extra client-safe fields added to the error body (e.g. the sandboxes blocking a delete). */
  details?: Record<string, unknown> | undefined;
  /** HTTP status of the answer that caused it, when a client got one. */
  status?: number | undefined;
}

/**
 * The one error type of Wrenn: services throw it with a code of the closed set, and the SDK's
 * typed errors extend it with the client-only codes (`C`). `message` is safe to show to clients;
 * `cause` is for logs only and is never serialized.
 */
export class WrennError<C extends ClientErrorCode = ErrorCode> extends Error {
  override name = "WrennError";
  /** What went wrong, one of the catalogue's codes. */
  readonly code: C;
  /** Extra client-safe fields added to the error body (e.g. the sandboxes blocking a delete). */
  readonly details: Record<string, unknown> | undefined;
  /** HTTP status of the answer, when a client got one. */
  readonly status: number | undefined;

  constructor(code: C, message: string, options: WrennErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.status = options.status;
  }

  /** The client-facing JSON body: `{code, message, ...details}`. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

/** True when `value` is a {@link WrennError} with a code of the servers' closed set. */
export function isWrennError(value: unknown): value is WrennError {
  return value instanceof WrennError && isErrorCode(value.code);
}

/** Shorthands so services read naturally: `throw errors.notFound("sandbox not found")`. */
export const errors = {
  invalidArgument: (msg: string, details?: Record<string, unknown>) =>
    new WrennError("invalid_argument", msg, { details }),
  unauthenticated: (msg = "authentication required") => new WrennError("unauthenticated", msg),
  permissionDenied: (msg = "permission denied") => new WrennError("permission_denied", msg),
  notFound: (msg: string) => new WrennError("not_found", msg),
  alreadyExists: (msg: string) => new WrennError("already_exists", msg),
  failedPrecondition: (msg: string, details?: Record<string, unknown>) =>
    new WrennError("failed_precondition", msg, { details }),
  resourceExhausted: (msg: string) => new WrennError("resource_exhausted", msg),
  unavailable: (msg: string, cause?: unknown) => new WrennError("unavailable", msg, { cause }),
  internal: (msg = "internal error", cause?: unknown) => new WrennError("internal", msg, { cause }),
};
