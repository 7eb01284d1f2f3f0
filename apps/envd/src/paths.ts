import { isAbsolute, join, normalize } from "node:path";
import { errors } from "@wrenn/common";
import type { UserAccount } from "./users.ts";

/**
 * Resolves a client path the way E2B's envd does: `~` and `~/x` expand to the
 * user's home, relative paths are taken from `base` (the default workdir or
 * the home directory), and the result is normalized.
 */
export function resolveUserPath(path: string, user: UserAccount, base?: string): string {
  if (typeof path !== "string" || path.includes("\0")) throw errors.invalidArgument("invalid path");
  if (path === "~") return user.home;
  if (path.startsWith("~/")) return normalize(join(user.home, path.slice(2)));
  if (isAbsolute(path)) return normalize(path);
  return normalize(join(base ?? user.home, path));
}
