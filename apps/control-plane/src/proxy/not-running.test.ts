import { errors } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import { NOT_RUNNING_DETAIL, notRunningAnswer } from "./not-running.ts";

const id = "sb-00000000-0000-4000-8000-000000000000";

describe("notRunningAnswer", () => {
  it("answers E2B's 502 body for a sandbox that exists but is not running", () => {
    const paused = errors.failedPrecondition("sandbox is paused", { [NOT_RUNNING_DETAIL]: "paused" });
    expect(notRunningAnswer(paused, id)).toEqual({
      sandboxId: id,
      code: 502,
      message: "The sandbox is paused: connect to or resume it to reach its ports",
    });
    const stopped = errors.failedPrecondition("sandbox is stopped", { [NOT_RUNNING_DETAIL]: "stopped" });
    expect(notRunningAnswer(stopped, id)).toMatchObject({ code: 502, message: /not running \(stopped\)/ });
  });

  it("leaves every other error to Wrenn's own answer", () => {
    for (const err of [
      errors.failedPrecondition("something else"),
      errors.notFound("sandbox not found"),
      errors.unauthenticated("invalid API key"),
      errors.unavailable("host offline"),
      new Error("boom"),
    ]) {
      expect(notRunningAnswer(err, id)).toBeUndefined();
    }
  });
});
