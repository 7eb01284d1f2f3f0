import type { ClientErrorCode } from "@wrenn/common";
import { ExitCode, type ExitCodeValue } from "../exit-codes.ts";

/** An error the CLI reports as one line and a chosen exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failure,
  ) {
    super(message);
  }
}

/** Bad arguments: exit code 2, and the command's usage is printed after the message. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** SDK error classes by name (the SDK's typed errors), so the table survives bundling and realms. */
const byName: Record<string, ExitCodeValue> = {
  NotFoundError: ExitCode.notFound,
  AuthenticationError: ExitCode.unauthenticated,
  PermissionDeniedError: ExitCode.unauthenticated,
  ConflictError: ExitCode.conflict,
  AlreadyExistsError: ExitCode.conflict,
  FailedPreconditionError: ExitCode.conflict,
  InvalidArgumentError: ExitCode.failure,
  UnavailableError: ExitCode.unavailable,
  ConnectionError: ExitCode.unavailable,
  TimeoutError: ExitCode.timeout,
};

/** Exit codes for the catalogue's error codes (`{code, message}` bodies, `WrennError.code`); the rest exit 1. */
const byCode: Partial<Record<ClientErrorCode, ExitCodeValue>> = {
  not_found: ExitCode.notFound,
  unauthenticated: ExitCode.unauthenticated,
  permission_denied: ExitCode.unauthenticated,
  already_exists: ExitCode.conflict,
  failed_precondition: ExitCode.conflict,
  unavailable: ExitCode.unavailable,
  deadline_exceeded: ExitCode.timeout,
};

const byStatus: Record<number, ExitCodeValue> = {
  401: ExitCode.unauthenticated,
  403: ExitCode.unauthenticated,
  404: ExitCode.notFound,
  409: ExitCode.conflict,
  502: ExitCode.unavailable,
  503: ExitCode.unavailable,
  504: ExitCode.timeout,
};

/** Socket-level failures: the control plane cannot be reached at all. */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * The socket error code behind an error or its cause chain (fetch wraps them in
 * `TypeError: fetch failed`); `fetch failed` itself when fetch gave no code (e.g. a blocked port).
 */
function networkCode(err: unknown): string | undefined {
  let fetchFailed = false;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = field(e, "cause"), depth++) {
    const code = field(e, "code");
    if (typeof code === "string" && networkCodes.has(code)) return code;
    if (e instanceof TypeError && e.message === "fetch failed") fetchFailed = true;
  }
  return fetchFailed ? "fetch failed" : undefined;
}

/** The innermost message of a cause chain (what actually went wrong on the socket). */
function rootMessage(err: unknown): string | undefined {
  let message: string | undefined;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = field(e, "cause"), depth++) {
    if (e instanceof Error && e.message) message = e.message;
  }
  return message;
}

/** The exit code for anything a command threw (see the table in apps/cli/README.md). */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof CliError) return err.exitCode;
  if (networkCode(err)) return ExitCode.unavailable;
  const name = field(err, "name");
  if (typeof name === "string" && name in byName) return byName[name] as ExitCodeValue;
  const code = field(err, "code");
  if (typeof code === "string" && code in byCode) return byCode[code as ClientErrorCode] as ExitCodeValue;
  const status = field(err, "status") ?? field(err, "statusCode");
  if (typeof status === "number" && status in byStatus) return byStatus[status] as ExitCodeValue;
  return ExitCode.failure;
}

/** One line for a user: the message without stack, prefixes or trailing newlines. */
export function errorMessage(err: unknown): string {
  const net = networkCode(err);
  let message = err instanceof Error ? err.message : String(err);
  if (net && message === "fetch failed") {
    const url = field(err, "url");
    const where = typeof url === "string" ? ` at ${url}` : "";
    const reason = rootMessage(err) ?? net;
    message = `cannot reach the Wrenn API${where}: ${reason === "fetch failed" ? net : reason} (is it running? check --url / WRENN_API_URL)`;
  }
  const line = message.split("\n").find((line) => line.trim() !== "") ?? "unknown error";
  return line.trim();
}
