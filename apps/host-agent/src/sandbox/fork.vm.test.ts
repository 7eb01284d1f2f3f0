import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataLayout } from "../storage/layout.ts";
import { forkRamDir } from "./fork-captures.ts";
import { COUNTER_LOOP, createTestAgent, ownGuestPages, runAsRoot, type TestAgent } from "./testing.ts";

// Real QEMU microVMs (software emulation here): at most three VMs run at once.
let agent: TestAgent;
let dataDir: string;
const created: string[] = [];

function newId(prefix: string): string {
  const id = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  created.push(id);
  return id;
}

const sh = (a: TestAgent, id: string, script: string) => runAsRoot(a.manager, id, script);

async function counter(a: TestAgent, id: string): Promise<number> {
  return Number(await sh(a, id, "cat /tmp/counter"));
}

/** Polls until the counter of `id` passes `above` (the loop runs there), failing after 30 s. */
async function counterPasses(a: TestAgent, id: string, above: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await counter(a, id);
    if (value > above) return value;
    if (Date.now() > deadline) throw new Error(`counter of ${id} stuck at ${value}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function captures(): Promise<string[]> {
  return readdir(join(dataDir, "forks")).catch(() => []);
}

/** A running sandbox with a file written and a counter process started before any fork. */
async function sourceWithState(a: TestAgent, id: string): Promise<{ pid: string; atFork: number }> {
  await a.manager.create({
    sandboxId: id,
    teamId: "team-a",
    templateId: "minimal",
    envs: { ORIGIN: "source" },
  });
  await sh(a, id, "echo before-fork > /root/state.txt");
  const pid = await sh(a, id, COUNTER_LOOP);
  return { pid, atFork: await counterPasses(a, id, 3) };
}

beforeAll(async () => {
  agent = await createTestAgent();
  dataDir = agent.dataDir;
});

afterAll(async () => {
  for (const id of created) await agent?.manager.destroy(id).catch(() => {});
  await agent?.dispose();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("fork of a running sandbox on QEMU microVMs", () => {
  it("two forks and the source continue the counter and the file independently; source destroyed first", {
    timeout: 600_000,
  }, async () => {
    const src = newId("src");
    const { pid, atFork } = await sourceWithState(agent, src);
    const [f1, f2] = [newId("fork"), newId("fork")] as [string, string];
    const { sandboxes, sourceStoppedMs, sourceRanDuringSave } = await agent.manager.fork(src, [
      { sandboxId: f1, envdAccessToken: "token-f1-0123456789" },
      { sandboxId: f2, envdAccessToken: "token-f2-0123456789", metadata: { role: "second" } },
    ]);
    expect(sandboxes.map((s) => [s.id, s.state])).toEqual([
      [f1, "running"],
      [f2, "running"],
    ]);
    expect(sandboxes[1]?.metadata).toEqual({ role: "second" });
    expect(sourceStoppedMs).toBeGreaterThan(0);
    expect(sourceRanDuringSave).toBe(false);
    expect(agent.manager.get(src).state).toBe("running");
    // The first fork restored only the pages the source had changed against the template's RAM
    // file, which both map: it owns about as many as the source (the full state would have made
    // it copy every non-zero page of the guest, several times more).
    const [source, first] = [await ownGuestPages(agent, src), await ownGuestPages(agent, f1)];
    expect(first.file).toBe(source.file);
    expect(first.pages).toBeLessThan(source.pages + 4096);
    expect(await captures()).toHaveLength(1);
    // The converted RAM file (on the tmpfs here) is unlinked once the forks map it: no file is left
    // to outlive them, and the counters below show the forks run on the mapping.
    const ramFiles = await readdir(forkRamDir(new DataLayout(dataDir)));
    expect(ramFiles).toEqual(["owner"]);

    for (const id of [src, f1, f2]) {
      // The file and the process from before the fork, the counter going on from where it was.
      expect(await sh(agent, id, "cat /root/state.txt")).toBe("before-fork");
      expect(await sh(agent, id, `kill -0 ${pid} && echo alive`)).toBe("alive");
      expect(await counterPasses(agent, id, atFork)).toBeGreaterThan(atFork);
      expect(await sh(agent, id, "echo $WRENN_SANDBOX_ID $ORIGIN")).toBe(`${id} source`);
    }
    // Each writes its own file: no one sees another's.
    for (const id of [src, f1, f2]) await sh(agent, id, `echo ${id} > /root/state.txt`);
    for (const id of [src, f1, f2]) expect(await sh(agent, id, "cat /root/state.txt")).toBe(id);
    // Stopping the counter in one fork leaves the others counting.
    await sh(agent, f1, `kill ${pid}`);
    const stopped = await counter(agent, f1);
    const [s0, f20] = [await counter(agent, src), await counter(agent, f2)];
    await counterPasses(agent, src, s0 + 5);
    await counterPasses(agent, f2, f20 + 5);
    expect(await counter(agent, f1)).toBe(stopped);

    // Source first: the forks keep the shared capture (their disks' base) alive.
    await agent.manager.destroy(src);
    expect(await captures()).toHaveLength(1);
    expect(await sh(agent, f2, "sync; cat /root/state.txt")).toBe(f2);
    await agent.manager.destroy(f1);
    expect(await captures()).toHaveLength(1);
    await agent.manager.destroy(f2);
    expect(await captures()).toEqual([]);
  });

  it("fork destroyed first; a paused fork keeps its capture across an agent restart", {
    timeout: 600_000,
  }, async () => {
    const src = newId("src");
    const { atFork } = await sourceWithState(agent, src);
    const [f1, f2] = [newId("fork"), newId("fork")] as [string, string];
    await agent.manager.fork(src, [{ sandboxId: f1 }, { sandboxId: f2 }]);
    expect(await counterPasses(agent, f1, atFork)).toBeGreaterThan(atFork);
    // Fork first: the source's own disk now stands on the capture, so it stays.
    await agent.manager.destroy(f1);
    expect(await captures()).toHaveLength(1);
    await sh(agent, src, "echo after > /root/state.txt; sync");
    expect(await sh(agent, src, "cat /root/state.txt")).toBe("after");
    await agent.manager.pause(f2);

    // A restart: the running source is lost, the paused fork stays and so does its capture; a
    // capture nobody names (as a crash mid-fork leaves) goes.
    await agent.manager.shutdown();
    await mkdir(join(dataDir, "forks", "0123456789abcdef"), { recursive: true });
    agent = await createTestAgent({ dataDir });
    expect(agent.manager.lostSandboxIds).toContain(src);
    expect(await captures()).toHaveLength(1);
    await agent.manager.resume(f2, 0);
    expect(await sh(agent, f2, "cat /root/state.txt")).toBe("before-fork");
    await agent.manager.destroy(f2);
    expect(await captures()).toEqual([]);
  });

  it("with background saves, a source whose RAM is on tmpfs runs while its RAM is written; its fork continues from the instant", {
    timeout: 600_000,
  }, async () => {
    const bgDir = await mkdtemp(join(process.env.WRENN_TEST_TMP || tmpdir(), "wrenn-agent-bg-"));
    const bg = await createTestAgent({ dataDir: bgDir, forkBackgroundSave: true });
    try {
      await backgroundFork(bg);
    } finally {
      await bg.dispose();
      await rm(bgDir, { recursive: true, force: true });
    }
  });

  async function backgroundFork(agent: TestAgent): Promise<void> {
    const src = newId("src");
    const { pid, atFork } = await sourceWithState(agent, src);
    const [f1, f2] = [newId("fork"), newId("fork")] as [string, string];
    // A clone's RAM privately maps the template's RAM file on a disk file system, which the
    // kernel cannot write-protect for QEMU: that source stays stopped for the whole save.
    const first = await agent.manager.fork(src, [{ sandboxId: f1 }, { sandboxId: f2 }]);
    expect(first.sourceRanDuringSave).toBe(false);
    await agent.manager.destroy(src);
    await agent.manager.destroy(f1);
    // The second fork maps the converted RAM file on the tmpfs: its fork is a background snapshot.
    await sh(agent, f2, "echo f2-at-fork > /root/state.txt");
    const atSecondFork = await counterPasses(agent, f2, atFork);
    const grandchild = newId("fork");
    const result = await agent.manager.fork(f2, [{ sandboxId: grandchild }]);
    expect(result.sourceRanDuringSave).toBe(true);
    expect(result.sourceStoppedMs).toBeGreaterThan(0);
    // Both go on from the instant: the file, the process, the counter past its value before the call.
    for (const id of [f2, grandchild]) {
      expect(await sh(agent, id, "cat /root/state.txt")).toBe("f2-at-fork");
      expect(await sh(agent, id, `kill -0 ${pid} && echo alive`)).toBe("alive");
      expect(await counterPasses(agent, id, atSecondFork)).toBeGreaterThan(atSecondFork);
    }
    // And apart: the grandchild's counter stopped, the source's goes on.
    await sh(agent, grandchild, `kill ${pid}`);
    const stopped = await counter(agent, grandchild);
    await counterPasses(agent, f2, await counter(agent, f2));
    expect(await counter(agent, grandchild)).toBe(stopped);
    await agent.manager.destroy(grandchild);
    await agent.manager.destroy(f2);
  }

  it("refuses a sandbox that is not running and ids that are taken", async () => {
    await expect(agent.manager.fork("no-such-sandbox", [{ sandboxId: newId("x") }])).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(agent.manager.fork("whatever", [])).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(
      agent.manager.fork("whatever", [{ sandboxId: "same" }, { sandboxId: "same" }]),
    ).rejects.toMatchObject({ code: "invalid_argument" });
  });
});
