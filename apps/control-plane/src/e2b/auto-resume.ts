import type { Logger } from "@wrenn/common";
import type { SandboxesService } from "../services/sandboxes.ts";
import type { SandboxDeadlines } from "./deadlines.ts";

/** The sandbox the port proxy found paused, as it knows it. */
export interface PausedTarget {
  sandboxId: string;
  teamId: string;
}

/**
 * E2B's auto-resume for the port proxy: resumes a paused sandbox created with
 * `lifecycle.autoResume` and gives it E2B's end time after an auto-resume (its creation timeout
 * again, at least five minutes, from now). The proxy calls it once per sandbox at a time
 * (concurrent requests wait for the same resume) and routes the request once it is running.
 */
export function autoResumer(deps: {
  sandboxes: SandboxesService;
  /** Late-bound: the deadlines are built with the /e2b routes, after the port proxy. */
  deadlines: () => SandboxDeadlines;
  log: Logger;
}): (target: PausedTarget) => Promise<void> {
  return async ({ sandboxId, teamId }) => {
    const started = Date.now();
    const resumed = await deps.sandboxes.resumeForTraffic(teamId, sandboxId);
    await deps.deadlines().afterAutoResume(resumed);
    deps.log.info({ sandboxId, ms: Date.now() - started }, "sandbox auto-resumed by proxied traffic");
  };
}
