import { describe, expect, it } from "vitest";
import { buildGuestImage } from "./build.ts";
import type { BuildProgress } from "./progress.ts";
import { resolveGuestImage } from "./resolve.ts";

describe("buildGuestImage", () => {
  // Uses the real data dir: `scripts/test` builds the image first, so the first call is
  // normally a cache hit too; if an input changed, it builds (minutes on a cold cache).
  // keep is high so that a rebuild here never deletes an image another test is booting.
  it("returns the cached image without rebuilding when nothing changed", { timeout: 900_000 }, async () => {
    const first = await buildGuestImage({ keep: 100 });
    const events: BuildProgress[] = [];
    const started = performance.now();
    const second = await buildGuestImage({ keep: 100, onProgress: (e) => events.push(e) });
    const elapsedMs = performance.now() - started;

    expect(second.cached).toBe(true);
    expect(second.hash).toBe(first.hash);
    // The < 10 s target is reported, not gated on (timed assertions flake on a shared machine).
    console.log(`[images] cached re-run took ${elapsedMs.toFixed(0)} ms`);
    expect(events.map((e) => `${e.step}:${e.status}`)).toEqual([
      "host-packages:start",
      "host-packages:done",
      "inputs:start",
      "inputs:done",
      "image:cached",
    ]);
    // What the host agent resolves is a complete image with a manifest describing it.
    const resolved = await resolveGuestImage();
    expect(resolved.manifest.builtAt >= second.manifest.builtAt).toBe(true);
    expect(second.manifest.inputs.envd.bundleSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(second.manifest.artifacts.rootfs.bytes).toBeGreaterThanOrEqual(1024 * 1024 * 1024);
    expect(second.manifest.artifacts.rootfs.allocatedBytes).toBeLessThan(
      second.manifest.artifacts.rootfs.bytes,
    );
  });
});
