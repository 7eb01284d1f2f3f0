import { beforeEach } from "vitest";
import { takeRecentLogs } from "./recent-logs.ts";

// Setup file of the `vm` project: when a test fails, print the warnings and errors its test
// deployments logged since the previous test ended (its file's set-up included) — the only place
// an internal error's cause appears, and CI keeps nothing else of a run. A passing test's are dropped.
beforeEach((ctx) => {
  ctx.onTestFinished(() => {
    const lines = takeRecentLogs();
    if (ctx.task.result?.state !== "fail" || lines.length === 0) return;
    console.error(
      `warnings and errors the platform logged up to the failure of "${ctx.task.name}":\n${lines.join("\n")}`,
    );
  });
});
