import { errors } from "@wrenn/common";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { e2bErrorResponse } from "./e2b-errors.ts";
import { errorResponse } from "./errors.ts";

/** Longest query parameter value accepted; ids, names, filters and cursors are far shorter. */
export const MAX_QUERY_VALUE_CHARS = 2048;
/** Longest JSON object key accepted (metadata keys, env names, label names). */
export const MAX_JSON_KEY_CHARS = 1024;
/** Deepest JSON nesting accepted; no request schema nests more than a few levels. */
export const MAX_JSON_DEPTH = 32;

// C0 controls other than TAB, LF and CR, plus DEL. NUL in particular: PostgreSQL refuses it in text
// and no argv or path can carry it, so it can only ever be a mistake or an attack.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Why `text` is not acceptable user text (`undefined` when it is). */
export function userTextProblem(text: string, maxChars: number): string | undefined {
  if (FORBIDDEN.test(text)) return "must not contain NUL or other control characters";
  if (text.length > maxChars) return `must be at most ${maxChars} characters`;
  return undefined;
}

/**
 * Checks text a route decoded itself (e.g. a filter whose pairs are URL-encoded inside one query
 * parameter, which the boundary check sees still encoded): `invalid_argument` naming `field`.
 */
export function requireUserText(text: string, field: string, maxChars = MAX_QUERY_VALUE_CHARS): string {
  const p = userTextProblem(text, maxChars);
  if (p) throw errors.invalidArgument(`${field}: ${p}`);
  return text;
}

/**
 * Checks a JSON value a route decoded itself (e.g. a JSON field of a multipart form, which the
 * boundary check does not read): `invalid_argument` naming the offending field.
 */
export function requireUserJson<T>(value: T, field: string): T {
  const p = findJsonProblem(value, field);
  if (p) throw errors.invalidArgument(p);
  return value;
}

/**
 * Walks a parsed JSON value: every string (object keys included) must be free of control characters,
 * keys bounded, nesting bounded. Returns the offending field's path and problem, or undefined.
 */
export function findJsonProblem(value: unknown, path = "", depth = 0): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `${path || "body"}: nested too deeply`;
  if (typeof value === "string") {
    const p = userTextProblem(value, Number.POSITIVE_INFINITY);
    return p && `${path || "body"}: ${p}`;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findJsonProblem(value[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      const keyProblem = userTextProblem(key, MAX_JSON_KEY_CHARS);
      if (keyProblem) return `${path ? `${path}.` : ""}key: ${keyProblem}`;
      const p = findJsonProblem(v, path ? `${path}.${key}` : key, depth + 1);
      if (p) return p;
    }
  }
  return undefined;
}

/** Paths whose request bodies are raw data (file uploads), never user text, whatever their type. */
export type RawBodyPath = (path: string) => boolean;

/**
 * The one user-text check at the HTTP boundary, for every REST and `/e2b` route: the path, each query
 * parameter and every string of a JSON body are refused with 400 `invalid_argument` when they carry
 * NUL or other control characters or exceed the bounds above. Field-specific lengths stay in each
 * route's schema. Runs after the body limit, so the body it reads is bounded; the body stays cached
 * for the route's own validator. `/e2b` answers in E2B's error shape.
 */
export function userTextGuard(isRawBody: RawBodyPath): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const problem = await findRequestProblem(c.req.raw, c.req.path, isRawBody, () => c.req.text());
    if (!problem) return next();
    const err = errors.invalidArgument(problem);
    const log = c.get("log");
    return c.req.path.startsWith("/e2b/") ? e2bErrorResponse(err, c, log) : errorResponse(err, c, log);
  };
}

async function findRequestProblem(
  req: Request,
  path: string,
  isRawBody: RawBodyPath,
  readText: () => Promise<string>,
): Promise<string | undefined> {
  const pathProblem = userTextProblem(path, Number.POSITIVE_INFINITY);
  if (pathProblem) return `path: ${pathProblem}`;
  const url = new URL(req.url);
  for (const [name, value] of url.searchParams) {
    const p = userTextProblem(name, MAX_JSON_KEY_CHARS) ?? userTextProblem(value, MAX_QUERY_VALUE_CHARS);
    if (p) return `${userTextProblem(name, MAX_JSON_KEY_CHARS) ? "query parameter name" : name}: ${p}`;
  }
  if (req.method === "GET" || req.method === "HEAD" || !req.body || isRawBody(path)) return undefined;
  const type = req.headers.get("content-type") ?? "";
  // Multipart forms are decoded by their route, which checks the text it decodes (requireUserText).
  // Any other declared type is read: routes that parse JSON whatever the type says (E2B's, whose
  // SDK sends some bodies without one or as text/plain) must not get past this check by a header.
  if (/^\s*multipart\//i.test(type)) return undefined;
  const text = await readText();
  if (text.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // the route's own validator words malformed JSON
  }
  return findJsonProblem(parsed);
}
