import {
  errorCodeForHttpStatus,
  errors,
  httpStatusByCode,
  isErrorCode,
  isWrennError,
  type Logger,
  WrennError,
} from "@wrenn/common";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

/** Converts anything thrown in a request into a {@link WrennError}; unknown errors become `internal`. */
export function toWrennError(err: unknown): WrennError {
  if (isWrennError(err)) return err;
  if (err instanceof HTTPException && err.status === 415) {
    return new WrennError("invalid_argument", "request body must be JSON (Content-Type: application/json)", {
      cause: err,
    });
  }
  if (err instanceof HTTPException && err.status < 500) {
    // Framework-raised statuses (e.g. the JSON body parser's 400) are translated back to our
    // codes; a 4xx with no code of the closed set of its own becomes invalid_argument.
    const mapped = errorCodeForHttpStatus(err.status);
    const code = isErrorCode(mapped) ? mapped : "invalid_argument";
    return new WrennError(code, err.message || "bad request", { cause: err });
  }
  return errors.internal("internal error", err);
}

/**
 * The one place errors become HTTP responses: status from `httpStatusByCode`,
 * body `{code, message}`. Causes are logged, never sent.
 */
export function errorResponse(err: unknown, c: Context, log: Logger): Response {
  const e = toWrennError(err);
  const status = httpStatusByCode[e.code] as ContentfulStatusCode;
  if (status >= 500) log.error({ err: e.cause ?? e, code: e.code }, e.message);
  else if (e.cause) log.debug({ err: e.cause, code: e.code }, e.message);
  const retryAfter = e.details?.retry_after_sec;
  if (typeof retryAfter === "number") c.header("Retry-After", String(retryAfter));
  return c.json(e.toJSON(), status);
}

/** One readable line from a zod validation failure, naming each offending field. */
export function describeZodError(error: ZodError, target: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.length ? i.path.join(".") : target === "json" ? "body" : target;
      return `${path}: ${i.message}`;
    })
    .join("; ");
}
