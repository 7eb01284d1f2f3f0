export { connectCodeByErrorCode } from "./connect-codes.ts";
export { type ErrorCode, ErrorCodes, errors, httpStatusByCode, isWrennError, WrennError } from "./errors.ts";
export { endToEndHeaders } from "./http-headers.ts";
export { createLogger, type Logger, redactedPaths } from "./logger.ts";
export { assertSafeName, isSafeName } from "./names.ts";
