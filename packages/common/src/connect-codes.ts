import { Code } from "@connectrpc/connect";
import { CONNECT_CODE_NAMES, errorCodeByConnectName } from "./connect-names.ts";
import type { ClientErrorCode, ErrorCode } from "./errors.ts";

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

/**
 * The catalogue's mapping back (`errorCodeByConnectName` in `connect-names.ts`), keyed by `Code`:
 * the Wrenn code a client sees for the Connect code an RPC failed with.
 */
export const errorCodeByConnectCode = Object.fromEntries(
  CONNECT_CODE_NAMES.map((name, i) => [i + 1, errorCodeByConnectName[name]]),
) as Readonly<Record<Code, ClientErrorCode>>;
