import { ConnectError } from "@connectrpc/connect";
import {
  connectCodeByErrorCode,
  type ErrorCode,
  errors,
  httpStatusByCode,
  isWrennError,
  type Logger,
  WrennError,
} from "@wrenn/common";

/** errno codes from the filesystem and process APIs, mapped to what the client did wrong. */
const errorCodeByErrno: Record<string, ErrorCode> = {
  ENOENT: "not_found",
  ENOTDIR: "invalid_argument",
  EISDIR: "invalid_argument",
  EINVAL: "invalid_argument",
  ENAMETOOLONG: "invalid_argument",
  ELOOP: "invalid_argument",
  EXDEV: "invalid_argument",
  ENOTEMPTY: "failed_precondition",
  EEXIST: "already_exists",
  EACCES: "permission_denied",
  EPERM: "permission_denied",
  EROFS: "permission_denied",
  ENOSPC: "resource_exhausted",
  EDQUOT: "resource_exhausted",
  EMFILE: "resource_exhausted",
  ENFILE: "resource_exhausted",
};

/**
 * Turns anything thrown into a {@link WrennError} whose message is safe for
 * clients: known errors keep their message, errno errors get a short text
 * naming the path the client gave, everything else becomes `internal` (and is
 * logged with its cause).
 */
export function toWrennError(err: unknown, logger: Logger, subject?: string): WrennError {
  if (isWrennError(err)) return err;
  if (err instanceof ConnectError) return new WrennError("invalid_argument", err.rawMessage);
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof errno === "string" && errno in errorCodeByErrno) {
    const code = errorCodeByErrno[errno] as ErrorCode;
    return new WrennError(code, describeErrno(errno, subject));
  }
  logger.error({ err }, "unexpected error");
  return errors.internal();
}

function describeErrno(errno: string, subject: string | undefined): string {
  const what = subject ? `'${subject}'` : "path";
  switch (errno) {
    case "ENOENT":
      return `${what} does not exist`;
    case "ENOTDIR":
      return `a component of ${what} is not a directory`;
    case "EISDIR":
      return `${what} is a directory`;
    case "ENOTEMPTY":
      return `${what} is not empty`;
    case "EEXIST":
      return `${what} already exists`;
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return `permission denied for ${what}`;
    case "ENOSPC":
    case "EDQUOT":
      return "not enough disk space";
    default:
      return `invalid ${what} (${errno})`;
  }
}

/** The Connect error a handler throws for `err` (never carries a stack or internal cause). */
export function toConnectError(err: unknown, logger: Logger, subject?: string): ConnectError {
  if (err instanceof ConnectError) return err;
  const wrenn = toWrennError(err, logger, subject);
  return new ConnectError(wrenn.message, connectCodeByErrorCode[wrenn.code]);
}

/**
 * HTTP status for an error on the plain HTTP routes. E2B's envd answers 507
 * when the disk is full; everything else follows the shared table.
 */
export function httpStatusOf(err: WrennError): number {
  if (err.code === "resource_exhausted" && err.message === "not enough disk space") return 507;
  return httpStatusByCode[err.code];
}
