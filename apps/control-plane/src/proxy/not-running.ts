import { isWrennError } from "@wrenn/common";
import type { SandboxState } from "@wrenn/db";

/**
 * The status E2B's proxy answers for a sandbox it cannot route to. The `e2b` SDK reads
 * only this status as "the sandbox is not running": `isRunning()` then returns false and
 * an envd call fails with its "not running anymore" error instead of an unknown one.
 */
export const NOT_RUNNING_STATUS = 502;

/** E2B's proxy error body: the sandbox's id, a message, and the status repeated as `code`. */
export interface NotRunningBody {
  sandboxId: string;
  message: string;
  code: typeof NOT_RUNNING_STATUS;
}

/** Marks the `failed_precondition` error {@link ProxyAccess} throws for a sandbox that is not running. */
export const NOT_RUNNING_DETAIL = "sandboxState";

/**
 * E2B's answer for an error that says the addressed sandbox exists but is not running
 * (paused, stopped, failed, still starting…), or undefined for any other error, which keeps
 * Wrenn's `{code, message}` answer (unknown sandbox 404, bad credential 401, host down 503).
 */
export function notRunningAnswer(err: unknown, sandboxId: string): NotRunningBody | undefined {
  if (!isWrennError(err) || err.code !== "failed_precondition") return undefined;
  const state = err.details?.[NOT_RUNNING_DETAIL] as SandboxState | undefined;
  if (state === undefined) return undefined;
  const message =
    state === "paused"
      ? "The sandbox is paused: connect to or resume it to reach its ports"
      : `The sandbox is not running (${state})`;
  return { sandboxId, message, code: NOT_RUNNING_STATUS };
}
