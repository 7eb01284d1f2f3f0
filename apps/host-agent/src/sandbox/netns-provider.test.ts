/**
 * The production network provider on real namespaces, veths, TAPs and rules (needs root; run
 * under the VM lock like other tests that create `wrenn-` namespaces). Slots 940-944 only.
 */
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { NamespaceNetworkProvider } from "./netns-provider.ts";

const FIRST = 940;
const LAST = 944;

function ourNamespaces(): string[] {
  return execFileSync("ip", ["netns", "list"])
    .toString()
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => {
      const idx = Number(/^wrenn-ns-(\d+)$/.exec(name)?.[1]);
      return idx >= FIRST && idx <= LAST;
    });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const slotOf = (lease: { persisted?: unknown }) => (lease.persisted as { slot: number }).slot;

describe("NamespaceNetworkProvider warm pool", () => {
  const provider = new NamespaceNetworkProvider({ first: FIRST, last: LAST }, undefined, 1);
  afterAll(() => provider.close());

  it("hands out a network set up ahead of demand, refills behind it, and removes the spare on close", async () => {
    expect(provider.warmCount).toBe(0);
    const first = await provider.acquire();
    await until(() => provider.warmCount === 1, "the pool to fill after the first acquire");
    const before = ourNamespaces();
    expect(before).toHaveLength(2);
    const second = await provider.acquire();
    // Served from the pool: its namespace was there before the call.
    expect(before).toContain(`wrenn-ns-${slotOf(second)}`);
    expect(provider.holds(slotOf(second))).toBe(true);
    expect(slotOf(second)).not.toBe(slotOf(first));
    await until(() => provider.warmCount === 1, "the pool to refill");
    await first.release();
    await second.release();
    expect(provider.holds(slotOf(first))).toBe(false);
    expect(ourNamespaces()).toHaveLength(1);
    await provider.close();
    expect(provider.warmCount).toBe(0);
    expect(ourNamespaces()).toEqual([]);
  });
});
