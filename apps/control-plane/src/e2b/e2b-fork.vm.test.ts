import { Sandbox as WrennSandbox } from "@wrenn/sdk";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { Sandbox } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointE2bSdkAt } from "./e2b-sdk-env.ts";

// Fork and snapshots through the official `e2b` SDK (and fork through Wrenn's own SDK) against
// a real deployment: control plane, registered host agent with netns networking, QEMU microVMs.
let d: TestDeployment;
let restoreE2bEnv: (() => void) | undefined;
const made: string[] = [];

const COUNTER =
  "nohup bash -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done' >/dev/null 2>&1 &";

async function counter(s: { commands: { run(cmd: string): Promise<{ stdout: string }> } }): Promise<number> {
  return Number((await s.commands.run("cat /tmp/counter")).stdout.trim());
}

/** Polls until the counter passes `above` (the process runs there), failing after 30 s. */
async function counterPasses(s: Parameters<typeof counter>[0], above: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await counter(s);
    if (value > above) return value;
    if (Date.now() > deadline) throw new Error(`counter stuck at ${value}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  d = await startTestDeployment({ agentArgs: ["--network", "netns"] });
  restoreE2bEnv = pointE2bSdkAt(d);
}, 120_000);

afterAll(async () => {
  for (const id of made) await Sandbox.kill(id).catch(() => {});
  restoreE2bEnv?.();
  await d?.close();
});

describe("fork and snapshots through the SDKs", () => {
  let source: Sandbox;

  it("e2b: Sandbox.fork makes running forks that continue the source's process and file", async () => {
    source = await Sandbox.create({ timeoutMs: 600_000 });
    made.push(source.sandboxId);
    await source.commands.run("echo before-fork > /tmp/state.txt");
    await source.commands.run(COUNTER);
    const atFork = await counterPasses(source, 3);
    const before = Date.now();
    const forks = await source.fork({ count: 2, timeoutMs: 300_000, requestTimeoutMs: 300_000 });
    expect(forks).toHaveLength(2);
    for (const fork of forks) {
      if (!(fork instanceof Sandbox)) throw fork;
      made.push(fork.sandboxId);
      expect(fork.sandboxId).not.toBe(source.sandboxId);
      expect((await fork.commands.run("cat /tmp/state.txt")).stdout).toBe("before-fork\n");
      expect(await counterPasses(fork, atFork)).toBeGreaterThan(atFork);
      await fork.commands.run(`echo ${fork.sandboxId} > /tmp/state.txt`);
      // E2B's timeout of the forks: an end time `timeout` after the fork.
      const info = await fork.getInfo();
      expect(info.state).toBe("running");
      expect(info.endAt.getTime()).toBeGreaterThanOrEqual(before + 300_000 - 1000);
    }
    expect(await counterPasses(source, atFork)).toBeGreaterThan(atFork);
    expect((await source.commands.run("cat /tmp/state.txt")).stdout).toBe("before-fork\n");
    for (const fork of forks as Sandbox[]) {
      expect((await fork.commands.run("cat /tmp/state.txt")).stdout).toBe(`${fork.sandboxId}\n`);
      expect(await fork.kill()).toBe(true);
    }
  }, 600_000);

  it("Wrenn's SDK: sandbox.fork() continues from the source too", async () => {
    const wrenn = await WrennSandbox.connect(source.sandboxId, { apiKey: d.apiKey, apiUrl: d.url });
    const [fork] = await wrenn.fork();
    if (!fork) throw new Error("no fork");
    made.push(fork.sandboxId);
    expect((await fork.commands.run("cat /tmp/state.txt")).stdout).toBe("before-fork\n");
    await fork.kill();
  }, 300_000);

  it("e2b: snapshots are created, listed, started from and deleted", async () => {
    // A capture under software emulation can outlast the SDK's 60 s default.
    const snap = await source.createSnapshot({ name: "fork-test-snap", requestTimeoutMs: 600_000 });
    expect(snap).toEqual({ snapshotId: "fork-test-snap", names: ["fork-test-snap"] });
    const listed = await Sandbox.listSnapshots({ sandboxId: source.sandboxId }).nextItems();
    expect(listed.map((s) => s.snapshotId)).toEqual(["fork-test-snap"]);
    expect(
      await Sandbox.listSnapshots({ sandboxId: "sb-00000000-0000-4000-8000-000000000000" }).nextItems(),
    ).toEqual([]);
    const fromSnap = await Sandbox.create(snap.snapshotId, { timeoutMs: 120_000, requestTimeoutMs: 300_000 });
    made.push(fromSnap.sandboxId);
    expect((await fromSnap.commands.run("cat /tmp/state.txt")).stdout).toBe("before-fork\n");
    await fromSnap.kill();
    expect(await Sandbox.deleteSnapshot(snap.snapshotId)).toBe(true);
    expect(await Sandbox.deleteSnapshot(snap.snapshotId)).toBe(false);
  }, 600_000);

  it("e2b: forking a paused sandbox is a conflict", async () => {
    await source.pause();
    await expect(Sandbox.fork(source.sandboxId)).rejects.toThrow(/only running sandboxes fork/);
  }, 120_000);
});
