import { errors } from "./errors.ts";

const SAFE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

/**
 * Validates a user-supplied name that will become part of a filesystem path
 * (template and snapshot names). Allow-list only: letters, digits, `.`, `_`, `-`,
 * starting with a letter or digit, at most 63 characters, never `.` or `..`.
 * Throws `invalid_argument` otherwise; returns the name unchanged.
 */
export function assertSafeName(name: unknown, what = "name"): string {
  if (typeof name !== "string" || !SAFE_NAME.test(name) || name.includes("..")) {
    throw errors.invalidArgument(
      `${what} must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** True when {@link assertSafeName} would accept `name`. */
export function isSafeName(name: unknown): name is string {
  return typeof name === "string" && SAFE_NAME.test(name) && !name.includes("..");
}
