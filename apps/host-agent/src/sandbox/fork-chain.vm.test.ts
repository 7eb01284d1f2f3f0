import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pollUntil } from "@wrenn/testing/poll";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COUNTER_LOOP, createTestAgent, runAsRoot, type TestAgent } from "./testing.ts";

// A fork of a fork on real QEMU microVMs: the grandchild's disk is an overlay on the child's
// capture, itself an overlay on the source's capture, so it depends on both. Its ancestors are
// destroyed first and the agent restarts while it is paused: neither capture may go before it.
// At most three VMs run at once.
let agent: TestAgent;
let dataDir: string;
const created: string[] = [];

function newId(prefix: string): string {
  const id = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  created.push(id);
  return id;
}

const sh = (id: string, script: string) => runAsRoot(agent.manager, id, script);

/** Polls until the counter of `id` passes `above` (its loop runs there), failing after 60 s. */
function counterPasses(id: string, above: number): Promise<number> {
  return pollUntil(
    `counter of ${id}`,
    async () => Number(await sh(id, "cat /tmp/counter")),
    (n) => n > above,
  );
}

/** Ids of the fork captures on disk (`forks/<id>/`). */
async function captures(): Promise<string[]> {
  return (await readdir(join(dataDir, "forks")).catch(() => [] as string[])).sort();
}

/** Every file of the guest's disk read back from the disk chain, not from the page cache. */
async function readColdFromDisk(id: string, paths: string[]): Promise<string> {
  return sh(id, `sync; echo 3 > /proc/sys/vm/drop_caches; cat ${paths.join(" ")}`);
}

beforeAll(async () => {
  agent = await createTestAgent();
  dataDir = agent.dataDir;
});

afterAll(async () => {
  for (const id of created) await agent?.manager.destroy(id).catch(() => {});
  await agent?.manager.shutdown();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("fork of a fork on QEMU microVMs", () => {
  it("the grandchild continues its parent's state, outlives its ancestors and an agent restart, and takes both captures with it", {
    timeout: 600_000,
  }, async () => {
    const started = Date.now();
    const phases: string[] = [];
    const phase = (what: string) => phases.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const src = newId("src");
    await agent.manager.create({ sandboxId: src, teamId: "team-a", templateId: "minimal" });
    await sh(src, "echo from-source > /root/gen0.txt");
    const pid = await sh(src, COUNTER_LOOP);
    const atFirstFork = await counterPasses(src, 3);

    phase("source running");
    const child = newId("child");
    await agent.manager.fork(src, [{ sandboxId: child }]);
    phase("child forked");
    const [firstCapture] = await captures();
    expect(await captures()).toHaveLength(1);
    await counterPasses(child, atFirstFork);
    await sh(child, "echo from-child > /root/gen1.txt; echo child > /root/gen0.txt");

    const grandchild = newId("grandchild");
    const atSecondFork = Number(await sh(child, "cat /tmp/counter"));
    const { sandboxes } = await agent.manager.fork(child, [{ sandboxId: grandchild }]);
    phase("grandchild forked");
    expect(sandboxes.map((s) => [s.id, s.state])).toEqual([[grandchild, "running"]]);
    expect(await captures()).toHaveLength(2);
    // The child's state at the second fork: its file, its overwrite of the source's, the
    // source's process counting on from the child's value, its own identity.
    expect(await sh(grandchild, "cat /root/gen0.txt /root/gen1.txt")).toBe("child\nfrom-child");
    expect(await sh(grandchild, `kill -0 ${pid} && echo alive`)).toBe("alive");
    expect(await counterPasses(grandchild, atSecondFork)).toBeGreaterThan(atSecondFork);
    expect(await sh(grandchild, "echo $WRENN_SANDBOX_ID")).toBe(grandchild);
    // Independent from here on, in both directions.
    await sh(grandchild, "echo grandchild > /root/gen2.txt");
    await sh(child, "echo child-later > /root/gen1.txt");
    expect(await sh(child, "cat /root/gen1.txt; test ! -e /root/gen2.txt && echo none")).toBe(
      "child-later\nnone",
    );
    expect(await sh(src, "cat /root/gen0.txt; test ! -e /root/gen1.txt && echo none")).toBe(
      "from-source\nnone",
    );

    // Ancestors first: the grandchild's disk chain runs through both captures, so both stay.
    await agent.manager.destroy(src);
    expect(await captures()).toHaveLength(2);
    await agent.manager.destroy(child);
    expect(await captures()).toHaveLength(2);
    expect(await readColdFromDisk(grandchild, ["/root/gen0.txt", "/root/gen1.txt", "/root/gen2.txt"])).toBe(
      "child\nfrom-child\ngrandchild",
    );

    phase("ancestors destroyed");
    // Paused across an agent restart: start-up collection of captures keeps both.
    await agent.manager.pause(grandchild);
    await agent.manager.shutdown();
    agent = await createTestAgent({ dataDir });
    expect(await captures()).toHaveLength(2);
    expect(await captures()).toContain(firstCapture);
    await agent.manager.resume(grandchild, 0);
    expect(await readColdFromDisk(grandchild, ["/root/gen0.txt", "/root/gen1.txt", "/root/gen2.txt"])).toBe(
      "child\nfrom-child\ngrandchild",
    );
    phase("restarted and resumed");
    const resumedAt = Number(await sh(grandchild, "cat /tmp/counter"));
    expect(await counterPasses(grandchild, resumedAt)).toBeGreaterThan(resumedAt);

    // The last one using them: both captures go with it.
    await agent.manager.destroy(grandchild);
    expect(await captures()).toEqual([]);
    phase("done");
    console.log(`fork chain (since start): ${phases.join(", ")}`);
  });
});
