import { describe, expect, it } from "vitest";
import { ExitCode } from "../exit-codes.ts";
import { CliError, errorMessage, exitCodeFor, UsageError } from "./errors.ts";

/** An error shaped like the SDK's typed errors (name + code + status), built without importing it. */
function sdkError(name: string, code: string, status?: number): Error {
  return Object.assign(new Error(`${name} happened`), { name, code, status });
}

describe("exitCodeFor", () => {
  it("maps the SDK's typed errors by class name", () => {
    expect(exitCodeFor(sdkError("NotFoundError", "not_found", 404))).toBe(ExitCode.notFound);
    expect(exitCodeFor(sdkError("AuthenticationError", "unauthenticated", 401))).toBe(
      ExitCode.unauthenticated,
    );
    expect(exitCodeFor(sdkError("FailedPreconditionError", "failed_precondition", 409))).toBe(
      ExitCode.conflict,
    );
    expect(exitCodeFor(sdkError("TimeoutError", "deadline_exceeded"))).toBe(ExitCode.timeout);
    expect(exitCodeFor(sdkError("InvalidArgumentError", "invalid_argument", 400))).toBe(ExitCode.failure);
  });

  it("falls back to the error code, then the HTTP status", () => {
    expect(exitCodeFor(sdkError("SandboxError", "unavailable", 503))).toBe(ExitCode.unavailable);
    expect(exitCodeFor(sdkError("SandboxError", "internal", 500))).toBe(ExitCode.failure);
    expect(exitCodeFor(sdkError("ApiError", "weird", 404))).toBe(ExitCode.notFound);
    expect(exitCodeFor(sdkError("ApiError", "weird", 403))).toBe(ExitCode.unauthenticated);
  });

  it("treats a refused connection anywhere in the cause chain as unavailable", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const wrapped = new TypeError("fetch failed", { cause: refused });
    expect(exitCodeFor(wrapped)).toBe(ExitCode.unavailable);
    expect(exitCodeFor(new Error("outer", { cause: wrapped }))).toBe(ExitCode.unavailable);
  });

  it("keeps the CLI's own codes and defaults to 1", () => {
    expect(exitCodeFor(new UsageError("bad flag"))).toBe(ExitCode.usage);
    expect(exitCodeFor(new CliError("gone", ExitCode.notFound))).toBe(ExitCode.notFound);
    expect(exitCodeFor(new Error("boom"))).toBe(ExitCode.failure);
    expect(exitCodeFor("a string")).toBe(ExitCode.failure);
  });
});

describe("errorMessage", () => {
  it("is one line, never a stack", () => {
    const err = new Error("first line\n    at somewhere (file.ts:1:1)");
    expect(errorMessage(err)).toBe("first line");
    expect(errorMessage("plain")).toBe("plain");
  });

  it("explains a bare fetch failure with the URL", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const err = Object.assign(new TypeError("fetch failed", { cause: refused }), {
      url: "http://127.0.0.1:9",
    });
    expect(errorMessage(err)).toBe(
      "cannot reach the Wrenn API at http://127.0.0.1:9: connect ECONNREFUSED (is it running? check --url / WRENN_API_URL)",
    );
  });

  it("treats a fetch failure without a socket code (a blocked port) as unreachable", () => {
    const err = new TypeError("fetch failed", { cause: new Error("bad port") });
    expect(exitCodeFor(err)).toBe(ExitCode.unavailable);
    expect(errorMessage(err)).toBe(
      "cannot reach the Wrenn API: bad port (is it running? check --url / WRENN_API_URL)",
    );
  });

  it("keeps a message that already names the socket error", () => {
    const refused = Object.assign(new Error("x"), { code: "ECONNREFUSED" });
    const err = new Error(
      "GET /v1/sandboxes: cannot reach the control plane: connect ECONNREFUSED 127.0.0.1:1",
      {
        cause: refused,
      },
    );
    expect(errorMessage(err)).toBe(err.message);
  });
});
