import { errors } from "@wrenn/common";
import type { Context } from "hono";
import type { z } from "zod";
import { describeZodError } from "../http/errors.ts";

export { e2bErrorResponse } from "../http/e2b-errors.ts";

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
