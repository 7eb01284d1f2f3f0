import { errors, httpStatusByCode, type Logger } from "@wrenn/common";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { describeZodError, toWrennError } from "../http/errors.ts";

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

/**
 * The JSON body validated by `schema`; an empty body counts as `{}` (the SDK sends none
 * for some actions). Malformed JSON or a failed check is `invalid_argument` naming the field.
 */
export async function readBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw errors.invalidArgument("request body must be JSON");
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw errors.invalidArgument(describeZodError(parsed.error, "json"));
  return parsed.data;
}
