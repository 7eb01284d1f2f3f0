import { httpStatusByCode, type Logger } from "@wrenn/common";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { toWrennError } from "./errors.ts";

/**
 * Errors of the E2B-compatible routes in E2B's shape, `{code: <HTTP status>, message}`:
 * the `e2b` SDK reads `code` as a number (a `404` there means "sandbox not found").
 * Status codes come from the one WrennError mapping; causes are logged, never sent.
 */
export function e2bErrorResponse(err: unknown, c: Context, log: Logger): Response {
  const e = toWrennError(err);
  const status = httpStatusByCode[e.code] as ContentfulStatusCode;
  if (status >= 500) log.error({ err: e.cause ?? e, code: e.code }, e.message);
  return c.json({ code: status, message: e.message }, status);
}
