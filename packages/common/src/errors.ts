/**
 * The closed set of error codes shared by every boundary (REST, RPC, CLI).
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

/**
 * The error type services throw. `message` is safe to show to clients; `cause`
 * is for logs only and is never serialized.
 */
export class WrennError extends Error {
  override readonly name = "WrennError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.details = options?.details;
  }
  /** Extra client-safe fields added to the error body (e.g. the sandboxes blocking a delete). */
  readonly details: Record<string, unknown> | undefined;

  /** The client-facing JSON body: `{code, message, ...details}`. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

/** True when `value` is a {@link WrennError}. */
export function isWrennError(value: unknown): value is WrennError {
  return value instanceof WrennError;
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
