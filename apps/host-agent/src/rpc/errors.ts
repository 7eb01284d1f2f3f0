import { Code, ConnectError } from "@connectrpc/connect";
import { connectCodeByErrorCode, isWrennError, type Logger } from "@wrenn/common";

/**
 * Turns anything thrown by a handler into a client-safe ConnectError: Wrenn
 * errors keep their code and message; envd's Connect errors pass through (they
 * describe the guest operation, e.g. a missing file); anything else becomes
 * `internal` with the cause logged, never sent.
 */
export function toConnectError(err: unknown, logger: Logger, method: string): ConnectError {
  if (isWrennError(err)) {
    if (err.code === "internal") logger.error({ err, method }, "internal error");
    return new ConnectError(err.message, connectCodeByErrorCode[err.code]);
  }
  if (err instanceof ConnectError) {
    if (err.code === Code.Unknown || err.code === Code.Internal) {
      logger.warn({ err, method }, "envd error");
    }
    return new ConnectError(err.rawMessage, err.code === Code.Unknown ? Code.Internal : err.code);
  }
  logger.error({ err, method }, "unexpected error");
  return new ConnectError("internal error", Code.Internal);
}
