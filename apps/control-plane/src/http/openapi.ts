import { OpenAPIHono, z } from "@hono/zod-openapi";
import { ErrorCodes, errors } from "@wrenn/common";
import type { AppEnv } from "./context.ts";
import { describeZodError } from "./errors.ts";

/** The error body every route may answer with. */
export const ErrorSchema = z
  .object({
    code: z.enum(ErrorCodes).openapi({ example: "invalid_argument" }),
    message: z.string().openapi({ example: "email: Invalid email address" }),
  })
  .openapi("Error");

const errorDescriptions: Record<number, string> = {
  400: "Invalid argument: malformed JSON, wrong types, unknown fields, or a body over the size limit",
  401: "Missing, invalid or expired credentials",
  403: "Authenticated but not allowed",
  404: "Not found (also for resources of other teams)",
  409: "Conflict: already exists or a precondition failed",
  429: "Rate limited",
  503: "A dependency is unavailable",
};

/** OpenAPI response entries for the given error statuses (plus 500, which any route can return). */
export function errorResponses(...statuses: (400 | 401 | 403 | 404 | 409 | 429 | 503)[]) {
  const out: Record<
    number,
    { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }
  > = {};
  for (const s of [...statuses, 500]) {
    out[s] = {
      description: errorDescriptions[s] ?? "Internal error",
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  return out;
}

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { "application/json": { schema } } } as const;
}

/** A JSON response entry. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/** Security requirement for routes that take a user session only. */
export const jwtSecurity: Record<string, string[]>[] = [{ BearerAuth: [] }];
/** Security requirement for routes that take an API key or a user session. */
export const keyOrJwtSecurity: Record<string, string[]>[] = [{ ApiKeyAuth: [] }, { BearerAuth: [] }];

/** A router whose validation failures become `invalid_argument` errors naming the fields. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw errors.invalidArgument(describeZodError(result.error, result.target));
    },
  });
}
