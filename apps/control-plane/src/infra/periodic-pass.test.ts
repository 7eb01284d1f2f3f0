import type { Logger } from "@wrenn/common";
import { describe, expect, it, vi } from "vitest";
import { PeriodicPass } from "./periodic-pass.ts";

function recordingLog() {
  const error = vi.fn();
  return { log: { error } as unknown as Logger, error };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("PeriodicPass", () => {
  it("joins a tick to the pass in progress instead of running a second one", async () => {
    let runs = 0;
    let release = () => {};
    const { log } = recordingLog();
    const passes = new PeriodicPass({
      job: "host-monitor",
      log,
      failure: "failed",
      run: () => {
        runs++;
        return new Promise<number>((r) => {
          release = () => r(runs);
        });
      },
    });
    const a = passes.tick();
    const b = passes.tick();
    expect(b).toBe(a);
    release();
    expect(await a).toBe(1);
    const c = passes.tick();
    release();
    expect(await c).toBe(2);
  });

  it("runs timed passes (one at once when asked), logs a failed one, and stop waits for the pass in progress", async () => {
    let runs = 0;
    let finished = 0;
    const { log, error } = recordingLog();
    const passes = new PeriodicPass({
      job: "stats-sampler",
      log,
      failure: "sample failed",
      run: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 20));
        finished++;
        if (runs === 1) throw new Error("boom");
      },
    });
    passes.start(60_000, { runAtOnce: true });
    await until(() => error.mock.calls.length === 1);
    expect(error.mock.calls[0]?.[1]).toBe("sample failed");
    await passes.stop();

    const timed = new PeriodicPass({
      job: "e2b-deadlines",
      log,
      failure: "failed",
      run: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 30));
        finished++;
      },
    });
    timed.start(10);
    await until(() => runs > finished);
    await timed.stop();
    expect(finished).toBe(runs);
    const after = runs;
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toBe(after);
  });
});
