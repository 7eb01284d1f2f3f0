import {
  type ErrorCode,
  errors,
  httpStatusByCode,
  isWrennError,
  type Logger,
  WrennError,
} from "@wrenn/common";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

// Framework-raised statuses (e.g. the JSON body parser's 400) are translated back
// to our codes; 413 and any other 4xx become invalid_argument.
const codeByStatus = new Map<number, ErrorCode>();
for (const [code, status] of Object.entries(httpStatusByCode) as [ErrorCode, number][]) {
  if (!codeByStatus.has(status)) codeByStatus.set(status, code);
}

/** Converts anything thrown in a request into a {@link WrennError}; unknown errors become `internal`. */
export function toWrennError(err: unknown): WrennError {
  if (isWrennError(err)) return err;
  if (err instanceof HTTPException && err.status === 415) {
    return new WrennError("invalid_argument", "request body must be JSON (Content-Type: application/json)", {
      cause: err,
    });
  }
  if (err instanceof HTTPException && err.status < 500) {
    const code = codeByStatus.get(err.status) ?? "invalid_argument";
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
