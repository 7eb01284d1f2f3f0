import { readdir, readFile } from "node:fs/promises";
import { createLogger } from "@wrenn/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvdClient } from "../envd-client/client.ts";
import { PLATFORM_TEAM_ID } from "../storage/layout.ts";
import { TemplateOperations } from "./template-ops.ts";
import { createTestAgent, type TestAgent } from "./testing.ts";
import { WARM_DIR_PREFIX } from "./warm-pool.ts";

// Real QEMU microVMs (software emulation here): at most three alive at a time.
let agent: TestAgent;

async function sh(id: string, script: string): Promise<string> {
  const result = await agent.manager
    .envd(id)
    .exec({ cmd: "/bin/bash", args: ["-c", script], user: "root" }, 60_000);
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr.toString()}`);
  return result.stdout.toString("utf8");
}

/** Pids of this test's QEMU processes by VM name (`wrenn-<id>` on the command line). */
async function qemuPids(): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
    const name = args[args.indexOf("-name") + 1];
    if (args.some((a) => a.includes(agent.dataDir)) && name?.startsWith("wrenn-")) found.set(pid, name);
  }
  return found;
}

async function warmPids(): Promise<number[]> {
  return [...(await qemuPids())].filter(([, name]) => name.startsWith("wrenn-warm.")).map(([pid]) => pid);
}

function ready(): number {
  return agent.manager.warmPool().reduce((sum, w) => sum + w.ready, 0);
}

beforeAll(async () => {
  agent = await createTestAgent({ warmPool: { perTemplate: { minimal: 1 }, others: 0 } });
});

afterAll(async () => {
  await agent?.dispose();
});

describe("warm pool on QEMU microVMs", () => {
  it("hands a warm VM to a create with its own identity, env, token and clock, then refills", {
    timeout: 600_000,
  }, async () => {
    // The first create of a template takes the normal path (and captures the snapshot).
    const first = await agent.manager.create({
      sandboxId: "wp-first",
      teamId: "team-a",
      templateId: "minimal",
    });
    expect(first.state).toBe("running");
    await agent.manager.warmPoolIdle();
    expect(agent.manager.warmPool()).toEqual([
      expect.objectContaining({
        teamId: PLATFORM_TEAM_ID,
        templateId: "minimal",
        ready: 1,
        starting: 0,
        memoryMb: 512,
      }),
    ]);
    const [warmPid] = await warmPids();
    expect(warmPid).toBeGreaterThan(1);
    // Never visible as a sandbox.
    expect(agent.manager.list().sandboxes.map((s) => s.id)).toEqual(["wp-first"]);
    expect(() => agent.manager.get(`${WARM_DIR_PREFIX}x`)).toThrow();

    const view = await agent.manager.create({
      sandboxId: "wp-taken",
      teamId: "team-b",
      templateId: "minimal",
      envs: { GREETING: "warm" },
      envdAccessToken: "token-of-wp-taken",
    });
    // The fast path: the very VM that waited in the pool, renamed to the sandbox (its speed is
    // bench/host-agent-warm-pool.ts's to measure, not a timed assertion on a loaded CI machine).
    expect(view.pid).toBe(warmPid);
    expect(view.teamId).toBe("team-b");
    expect(view.diskPath).toContain("/sandboxes/wp-taken/");
    expect(await sh("wp-taken", "echo $GREETING $WRENN_SANDBOX_ID $WRENN_TEMPLATE_ID")).toBe(
      "warm wp-taken minimal\n",
    );
    // The sandbox's token works, another one does not.
    const { host, port } = agent.manager.envd("wp-taken");
    expect(
      await new EnvdClient(host, port, "token-of-wp-taken").exec({ cmd: "/bin/true" }, 30_000),
    ).toMatchObject({
      exitCode: 0,
    });
    await expect(
      new EnvdClient(host, port, "not-the-token").exec({ cmd: "/bin/true" }, 30_000),
    ).rejects.toThrow();
    // The guest's clock is the host's.
    const guestSec = Number(await sh("wp-taken", "date +%s"));
    expect(Math.abs(guestSec - Date.now() / 1000)).toBeLessThan(3);
    // The disk is the sandbox's (written files stay after a pause / resume of the renamed VM).
    await sh("wp-taken", "echo kept > /root/kept.txt");
    await agent.manager.pause("wp-taken");
    await agent.manager.resume("wp-taken", 0);
    expect(await sh("wp-taken", "cat /root/kept.txt")).toBe("kept\n");

    // Refilled in the background with a new VM; a create the pool cannot serve takes the normal path.
    await agent.manager.warmPoolIdle();
    expect(ready()).toBe(1);
    const [refilled] = await warmPids();
    expect(refilled).not.toBe(warmPid);
    const bigger = await agent.manager.create({
      sandboxId: "wp-bigger",
      teamId: "team-b",
      templateId: "minimal",
      diskSizeMb: 6144,
    });
    expect(bigger.pid).not.toBe(refilled);
    expect(await warmPids()).toEqual([refilled]);
    await agent.manager.destroy("wp-bigger");
    expect(
      agent.manager
        .list()
        .sandboxes.map((s) => s.id)
        .sort(),
    ).toEqual(["wp-first", "wp-taken"]);
  });

  it("drains the pool when the template is deleted and ends warm VMs at shutdown", {
    timeout: 600_000,
  }, async () => {
    await agent.manager.warmPoolIdle();
    expect(await warmPids()).toHaveLength(1);
    const ops = new TemplateOperations(
      agent.manager,
      agent.templates,
      agent.driver,
      createLogger("warm-pool-test", "silent"),
    );
    await ops.deleteSnapshot(PLATFORM_TEAM_ID, "minimal");
    expect(await warmPids()).toEqual([]);
    expect(agent.manager.warmPool()).toEqual([]);
    expect(await readdir(`${agent.dataDir}/sandboxes`)).not.toContainEqual(expect.stringMatching(/^warm\./));

    // The next create captures the template again and the pool fills anew.
    await agent.manager.create({ sandboxId: "wp-after", teamId: "team-a", templateId: "minimal" });
    await agent.manager.warmPoolIdle();
    expect(await warmPids()).toHaveLength(1);
    await agent.manager.shutdown();
    expect(await qemuPids()).toEqual(new Map());
  });
});
