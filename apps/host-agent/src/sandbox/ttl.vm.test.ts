import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TtlReaper } from "./reaper.ts";
import { createTestAgent, type TestAgent } from "./testing.ts";

// The inactivity timeout on a real QEMU microVM. The reaper reads a shifted clock
// (real time + `aheadMs`), so "5 s later" is exact and nothing sleeps; pings stamp
// the real time, as they do in production.
let agent: TestAgent;
let aheadMs = 0;
const clock = () => Date.now() + aheadMs;
let reaper: TtlReaper;
const ids: string[] = [];

async function savedTimeout(id: string): Promise<number> {
  const record = JSON.parse(await readFile(join(agent.dataDir, "sandboxes", id, "sandbox.json"), "utf8"));
  return record.timeoutSec;
}

beforeAll(async () => {
  agent = await createTestAgent();
  reaper = new TtlReaper(agent.manager, createLogger("ttl-test", "silent"), { now: clock });
});

afterAll(async () => {
  for (const id of ids) await agent?.manager.destroy(id).catch(() => {});
  await agent?.dispose();
});

describe("inactivity timeout of a running sandbox", () => {
  it("takes a new timeout at once, counts it from the change, and 0 turns auto-pause off", async () => {
    const id = `ttl-${Math.random().toString(36).slice(2, 10)}`;
    ids.push(id);
    await agent.manager.create({ sandboxId: id, teamId: "team-a", templateId: "minimal", timeoutSec: 600 });

    aheadMs = 100_000;
    expect(await reaper.sweep()).toEqual({ paused: [], destroyed: [] });

    // Shortened to 5 s after 100 s idle: not due at once, due 5 s after the change.
    aheadMs = 0;
    const changed = await agent.manager.ping(id, 5);
    expect(changed).toMatchObject({ state: "running", timeoutSec: 5 });
    expect(await savedTimeout(id)).toBe(5);
    aheadMs = 4_000;
    expect(await reaper.sweep()).toEqual({ paused: [], destroyed: [] });

    // A plain ping restarts the countdown and keeps the 5 s.
    expect((await agent.manager.ping(id)).timeoutSec).toBe(5);
    aheadMs = 5_500;
    expect(await reaper.sweep()).toEqual({ paused: [id], destroyed: [] });
    expect(agent.manager.list().autoPausedIds).toEqual([id]);

    // Paused: the agent refuses; the control plane keeps the value for the resume instead.
    await expect(agent.manager.ping(id, 30)).rejects.toThrow(/cannot set the timeout of sandbox .* paused/);
    aheadMs = 0;
    await agent.manager.resume(id, 5);

    expect((await agent.manager.ping(id, 0)).timeoutSec).toBe(0);
    expect(await savedTimeout(id)).toBe(0);
    aheadMs = 30 * 86_400_000;
    expect(await reaper.sweep()).toEqual({ paused: [], destroyed: [] });
    expect(agent.manager.get(id).state).toBe("running");
  });

  it("re-checks idleness under the sandbox's lock, so a ping after the sweep listed it wins", async () => {
    const id = `ttl-${Math.random().toString(36).slice(2, 10)}`;
    ids.push(id);
    await agent.manager.create({ sandboxId: id, teamId: "team-a", templateId: "minimal", timeoutSec: 5 });
    aheadMs = 6_000;
    expect(agent.manager.idleSandboxIds(clock())).toContain(id);
    aheadMs = 0;
    await agent.manager.ping(id);
    expect(await agent.manager.pauseIfIdle(id, clock)).toBe(false);
    expect(agent.manager.get(id).state).toBe("running");

    // Bad values change nothing.
    await expect(agent.manager.ping(id, -1)).rejects.toThrow(/timeout_sec must be a whole number/);
    await expect(agent.manager.ping(id, 2.5)).rejects.toThrow(/timeout_sec must be a whole number/);
    expect(agent.manager.get(id).timeoutSec).toBe(5);
    await expect(agent.manager.ping("ttl-unknown", 5)).rejects.toThrow(/not found/);
  });
});
