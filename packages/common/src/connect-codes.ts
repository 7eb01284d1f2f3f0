import { Code } from "@connectrpc/connect";
import type { ErrorCode } from "./errors.ts";

/**
 * The one mapping from Wrenn error codes to Connect codes, for every RPC server
 * (envd, host agent): the RPC boundary's counterpart of `httpStatusByCode`.
 */
export const connectCodeByErrorCode: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};
