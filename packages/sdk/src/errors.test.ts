import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import {
  AuthenticationError,
  CommandExitError,
  ConflictError,
  errorFromConnect,
  errorFromHttp,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  RateLimitError,
  SandboxError,
  TimeoutError,
  WrennError,
} from "./errors.ts";

describe("errorFromHttp", () => {
  test.each([
    ["not_found", 404, NotFoundError],
    ["unauthenticated", 401, AuthenticationError],
    ["permission_denied", 403, AuthenticationError],
    ["invalid_argument", 400, InvalidArgumentError],
    ["already_exists", 409, ConflictError],
    ["failed_precondition", 409, FailedPreconditionError],
    ["resource_exhausted", 429, RateLimitError],
    ["unavailable", 503, SandboxError],
    ["internal", 500, SandboxError],
  ])("control plane body {code: %s} → its class", (code, status, cls) => {
    const err = errorFromHttp(status, JSON.stringify({ code, message: `msg ${code}` }));
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(WrennError);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(err.message).toBe(`msg ${code}`);
  });

  test("the body's code wins over the status (409 can be either conflict kind)", () => {
    const conflict = errorFromHttp(409, '{"code":"already_exists","message":"taken"}');
    const state = errorFromHttp(409, '{"code":"failed_precondition","message":"paused"}');
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict).not.toBeInstanceOf(FailedPreconditionError);
    expect(state).toBeInstanceOf(FailedPreconditionError);
    // A precondition failure is still a conflict for callers that catch broadly.
    expect(state).toBeInstanceOf(ConflictError);
  });

  test("envd's numeric {code: 404} falls back to the status", () => {
    const err = errorFromHttp(404, '{"code":404,"message":"path \'/x\' does not exist"}');
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe("path '/x' does not exist");
  });

  test("the port proxy's not-running 502 (E2B's shape) is a failed precondition", () => {
    const err = errorFromHttp(502, '{"sandboxId":"sb-1","message":"The sandbox is paused","code":502}');
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect(err.message).toBe("The sandbox is paused");
    expect(errorFromHttp(502, '{"code":502,"message":"bad gateway"}')).toBeInstanceOf(SandboxError);
  });

  test("a non-JSON body keeps the status and says what failed", () => {
    const err = errorFromHttp(502, "<html>Bad Gateway</html>", "GET /v1/sandboxes");
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.code).toBe("unavailable");
    expect(err.message).toContain("GET /v1/sandboxes failed with HTTP 502");
    expect(errorFromHttp(504, "")).toBeInstanceOf(TimeoutError);
    expect(errorFromHttp(418, "").code).toBe("internal");
  });
});

describe("errorFromConnect", () => {
  test.each([
    [Code.NotFound, NotFoundError, "not_found"],
    [Code.Unauthenticated, AuthenticationError, "unauthenticated"],
    [Code.PermissionDenied, AuthenticationError, "permission_denied"],
    [Code.InvalidArgument, InvalidArgumentError, "invalid_argument"],
    [Code.AlreadyExists, ConflictError, "already_exists"],
    [Code.FailedPrecondition, FailedPreconditionError, "failed_precondition"],
    [Code.ResourceExhausted, RateLimitError, "resource_exhausted"],
    [Code.DeadlineExceeded, TimeoutError, "deadline_exceeded"],
    [Code.Unavailable, SandboxError, "unavailable"],
    [Code.Internal, SandboxError, "internal"],
    [Code.Unknown, SandboxError, "internal"],
  ])("Connect code %s → its class", (code, cls, ours) => {
    const err = errorFromConnect(new ConnectError("boom", code));
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(ours);
    expect(err.message).toBe("boom");
  });

  test("typed errors pass through; anything else is an unavailable SandboxError", () => {
    const typed = new NotFoundError("x");
    expect(errorFromConnect(typed)).toBe(typed);
    const other = errorFromConnect(new TypeError("fetch failed"), "list processes");
    expect(other).toBeInstanceOf(SandboxError);
    expect(other.code).toBe("unavailable");
    expect(other.message).toBe("list processes failed: fetch failed");
  });
});

test("CommandExitError carries the whole result", () => {
  const err = new CommandExitError({ exitCode: 3, stdout: "out", stderr: "err", error: undefined });
  expect(err).toBeInstanceOf(WrennError);
  expect(err.code).toBe("command_failed");
  expect(err.exitCode).toBe(3);
  expect(err.stdout).toBe("out");
  expect(err.stderr).toBe("err");
  expect(err.result).toEqual({ exitCode: 3, stdout: "out", stderr: "err", error: undefined });
  expect(err.message).toBe("command exited with code 3");
});

describe("the typed error classes", () => {
  test.each([
    [NotFoundError, "NotFoundError", "not_found"],
    [AuthenticationError, "AuthenticationError", "unauthenticated"],
    [InvalidArgumentError, "InvalidArgumentError", "invalid_argument"],
    [ConflictError, "ConflictError", "already_exists"],
    [FailedPreconditionError, "FailedPreconditionError", "failed_precondition"],
    [RateLimitError, "RateLimitError", "resource_exhausted"],
    [TimeoutError, "TimeoutError", "deadline_exceeded"],
    [SandboxError, "SandboxError", "internal"],
  ] as const)("%o is named %s, a WrennError and an Error, with code %s by default", (cls, name, code) => {
    const cause = new Error("underneath");
    const err = new cls("went wrong", { status: 418, cause });
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(WrennError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(name);
    expect(err.constructor.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.status).toBe(418);
    expect(err.cause).toBe(cause);
    expect(err.message).toBe("went wrong");
    expect(String(err)).toBe(`${name}: went wrong`);
    expect(new cls("bare").status).toBeUndefined();
    expect("cause" in new cls("bare")).toBe(false);
  });

  test("the classes with several codes take one of theirs as the code option", () => {
    expect(new AuthenticationError("x", { code: "permission_denied" }).code).toBe("permission_denied");
    expect(new ConflictError("x", { code: "failed_precondition" }).code).toBe("failed_precondition");
    expect(new SandboxError("x", { code: "unavailable" }).code).toBe("unavailable");
    // A code of another class (only reachable past the types) is not taken.
    const stray = { code: "not_found" } as unknown as { code: "internal" };
    expect(new SandboxError("x", stray).code).toBe("internal");
  });

  test("unrelated classes do not match each other", () => {
    const err = new TimeoutError("slow");
    expect(err).not.toBeInstanceOf(NotFoundError);
    expect(err).not.toBeInstanceOf(SandboxError);
    expect(new ConflictError("taken")).not.toBeInstanceOf(FailedPreconditionError);
  });
});
