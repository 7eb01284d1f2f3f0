import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { connectCodeByErrorCode, errorCodeByConnectCode } from "./connect-codes.ts";
import {
  ClientOnlyErrorCodes,
  ErrorCodes,
  errorCodeForHttpStatus,
  errors,
  httpStatusByCode,
  isErrorCode,
  isWrennError,
  WrennError,
} from "./errors.ts";

describe("the error catalogue", () => {
  it("maps every code of the closed set to a Connect code and back to itself", () => {
    for (const code of ErrorCodes) {
      expect(errorCodeByConnectCode[connectCodeByErrorCode[code]], code).toBe(code);
    }
  });

  it("names a Wrenn code for every Connect code", () => {
    const connectCodes = Object.values(Code).filter((v): v is Code => typeof v === "number");
    expect(connectCodes.length).toBeGreaterThan(10);
    for (const code of connectCodes) {
      expect([...ErrorCodes, ...ClientOnlyErrorCodes], Code[code]).toContain(errorCodeByConnectCode[code]);
    }
    expect(errorCodeByConnectCode[Code.DeadlineExceeded]).toBe("deadline_exceeded");
    expect(errorCodeByConnectCode[Code.Aborted]).toBe("failed_precondition");
  });

  it("reads an HTTP status back as the first code that answers with it, and foreign statuses by meaning", () => {
    for (const code of ErrorCodes) {
      const back = errorCodeForHttpStatus(httpStatusByCode[code]);
      expect(back === undefined ? undefined : httpStatusByCode[back as keyof typeof httpStatusByCode]).toBe(
        httpStatusByCode[code],
      );
    }
    expect(errorCodeForHttpStatus(409)).toBe("already_exists");
    expect(errorCodeForHttpStatus(413)).toBe("invalid_argument");
    expect(errorCodeForHttpStatus(504)).toBe("deadline_exceeded");
    expect(errorCodeForHttpStatus(502)).toBe("unavailable");
    expect(errorCodeForHttpStatus(418)).toBeUndefined();
  });

  it("tells the servers' codes from client-only ones", () => {
    expect(ErrorCodes.every(isErrorCode)).toBe(true);
    expect(ClientOnlyErrorCodes.some(isErrorCode)).toBe(false);
    expect(isErrorCode("nope")).toBe(false);
  });
});

describe("WrennError", () => {
  it("serialises to {code, message, ...details} and never its cause", () => {
    const err = errors.failedPrecondition("busy", { sandboxes: ["sb-1"] });
    const withCause = errors.internal("failed", new Error("secret"));
    expect(err.toJSON()).toEqual({ code: "failed_precondition", message: "busy", sandboxes: ["sb-1"] });
    expect(JSON.stringify(withCause)).toBe('{"code":"internal","message":"failed"}');
    expect(withCause.cause).toBeInstanceOf(Error);
  });

  it("isWrennError accepts only codes of the servers' closed set", () => {
    expect(isWrennError(errors.notFound("x"))).toBe(true);
    expect(isWrennError(new WrennError<"deadline_exceeded">("deadline_exceeded", "slow"))).toBe(false);
    expect(isWrennError(new Error("x"))).toBe(false);
  });
});
