export { connectCodeByErrorCode, errorCodeByConnectCode } from "./connect-codes.ts";
export {
  ALL_TRAFFIC,
  checkEgressPolicy,
  domainMatches,
  type EgressPolicy,
  type EgressRule,
  isOpenEgress,
  MAX_EGRESS_ENTRIES,
  OPEN_EGRESS,
  type PortRange,
  parseEgressEntry,
  parseEgressList,
} from "./egress.ts";
export {
  type ClientErrorCode,
  ClientOnlyErrorCodes,
  type ErrorCode,
  ErrorCodes,
  errorCodeForHttpStatus,
  errors,
  httpStatusByCode,
  isErrorCode,
  isWrennError,
  WrennError,
  type WrennErrorOptions,
} from "./errors.ts";
export { endToEndHeaders } from "./http-headers.ts";
export { createLogger, type Logger, loggerOptions, redactedPaths, serializeError } from "./logger.ts";
export { assertSafeName, isSafeName } from "./names.ts";
export { isProcessAlive } from "./process.ts";
