import { afterEach, describe, expect, it, vi } from "vitest";
import { noteTransientBytes, SCAVENGE_EVERY_BYTES, transientScavenges } from "./transient-buffers.ts";

describe("noteTransientBytes", () => {
  const globals = globalThis as { gc?: unknown };
  const original = globals.gc;

  afterEach(() => {
    globals.gc = original;
  });

  it("asks V8 for one minor collection per SCAVENGE_EVERY_BYTES handled", () => {
    const gc = vi.fn();
    globals.gc = gc;
    // Start from a fresh window whatever earlier calls counted.
    noteTransientBytes(SCAVENGE_EVERY_BYTES);
    gc.mockClear();
    const before = transientScavenges();

    const chunk = 64 * 1024;
    for (let sent = 0; sent < SCAVENGE_EVERY_BYTES - chunk; sent += chunk) noteTransientBytes(chunk);
    expect(gc).not.toHaveBeenCalled();
    noteTransientBytes(chunk);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(gc).toHaveBeenCalledWith({ type: "minor" });

    for (let sent = 0; sent < 2 * SCAVENGE_EVERY_BYTES; sent += chunk) noteTransientBytes(chunk);
    expect(gc).toHaveBeenCalledTimes(3);
    expect(transientScavenges() - before).toBe(3);
  });

  it("does nothing when gc is not exposed (envd started without --expose-gc)", () => {
    globals.gc = undefined;
    const before = transientScavenges();
    expect(() => noteTransientBytes(3 * SCAVENGE_EVERY_BYTES)).not.toThrow();
    expect(transientScavenges()).toBe(before);
  });
});
