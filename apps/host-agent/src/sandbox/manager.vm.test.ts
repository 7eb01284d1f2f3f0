import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { pollUntil } from "@wrenn/testing/poll";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diskUsage } from "../storage/disk.ts";
import { DataLayout, SANDBOX_FILES } from "../storage/layout.ts";
import { TtlReaper } from "./reaper.ts";
import { createTestAgent, ownGuestPages, type TestAgent } from "./testing.ts";

// Real QEMU microVMs (software emulation here): each test keeps at most two VMs alive.
const PAUSE_CYCLES = Number(process.env.WRENN_TEST_PAUSE_CYCLES || 10);

let agent: TestAgent;
const created: string[] = [];

function newId(prefix: string): string {
  const id = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  created.push(id);
  return id;
}

async function sh(id: string, script: string, user = "root"): Promise<string> {
  const result = await agent.manager.envd(id).exec({ cmd: "/bin/bash", args: ["-c", script], user }, 60_000);
  if (result.exitCode !== 0) {
    throw new Error(`exit ${result.exitCode}: ${result.stderr.toString()} ${result.error}`);
  }
  return result.stdout.toString("utf8");
}

beforeAll(async () => {
  agent = await createTestAgent();
});

afterAll(async () => {
  for (const id of created) await agent?.manager.destroy(id).catch(() => {});
  await agent?.dispose();
});

describe("SandboxManager on QEMU microVMs", () => {
  it("creates a sandbox from the template snapshot and reaches envd", async () => {
    const id = newId("create");
    const started = Date.now();
    const sandbox = await agent.manager.create({
      sandboxId: id,
      teamId: "team-a",
      templateId: "minimal",
      envs: { GREETING: "hello" },
      metadata: { owner: "test" },
    });
    expect(sandbox.state).toBe("running");
    expect(sandbox.pid).toBeGreaterThan(1);
    expect(await sh(id, "echo $GREETING; echo $WRENN_SANDBOX_ID")).toBe(`hello\n${id}\n`);
    // The guest sees the default 5120 MB disk with a file system grown to match.
    const size = Number(await sh(id, "df -B1M --output=size / | tail -1"));
    expect(size).toBeGreaterThan(4500);
    expect(size).toBeLessThanOrEqual(5120);
    // Starting from a snapshot is far quicker than a boot, even including the first capture.
    expect(Date.now() - started).toBeLessThan(120_000);
    await agent.manager.destroy(id);
    await expect(stat(join(agent.dataDir, "sandboxes", id))).rejects.toThrow();
    expect(agent.manager.list().sandboxes.map((s) => s.id)).not.toContain(id);
  });

  it(`keeps files and background processes across ${PAUSE_CYCLES} pause/resume cycles`, {
    timeout: 900_000,
  }, async () => {
    const id = newId("cycle");
    await agent.manager.create({ sandboxId: id, teamId: "team-a", templateId: "minimal", timeoutSec: 600 });
    await sh(id, "echo kept > /root/file.txt");
    const pid = (
      await sh(
        id,
        "nohup bash -c 'while true; do date +%s%N >> /tmp/ticks; sleep 0.2; done' >/dev/null 2>&1 & echo $!",
      )
    ).trim();
    for (let cycle = 0; cycle < PAUSE_CYCLES; cycle++) {
      const vmPid = agent.manager.get(id).pid;
      const bytes = await agent.manager.pause(id);
      expect(bytes).toBeGreaterThan(0);
      const paused = agent.manager.get(id);
      expect(paused.state).toBe("paused");
      expect(paused.pid).toBeUndefined();
      // A paused sandbox holds no process (and so no RAM).
      await expect(stat(`/proc/${vmPid}`)).rejects.toThrow();
      expect(() => agent.manager.envd(id)).toThrow(/paused/);
      // Most cycles wait for the pause's reduction to the changed pages (the resume then maps the
      // template's RAM file); the last two resume at once (the reduction stops, all is restored).
      if (cycle < PAUSE_CYCLES - 2) {
        const file = join(new DataLayout(agent.dataDir).sandboxDir(id), SANDBOX_FILES.pauseChangedState);
        const done = () =>
          stat(file).then(
            () => true,
            () => false,
          );
        await pollUntil("the pause state's reduction", done, (ok) => ok, 60_000);
      }
      const resumed = await agent.manager.resume(id, 600);
      expect(resumed.state).toBe("running");
      expect(resumed.timeoutSec).toBe(600);
      expect(await sh(id, "cat /root/file.txt")).toBe("kept\n");
      expect((await sh(id, `kill -0 ${pid} && echo alive`)).trim()).toBe("alive");
      if (cycle === PAUSE_CYCLES - 3) {
        // Resumed from the changed pages over the template's RAM file: the VM owns about as many
        // pages as a new clone, where restoring everything copies every non-zero page.
        const created = newId("fresh");
        await agent.manager.create({ sandboxId: created, teamId: "team-a", templateId: "minimal" });
        const [resumedPages, clonePages] = [
          await ownGuestPages(agent, id),
          await ownGuestPages(agent, created),
        ];
        expect(resumedPages.file).toBe(clonePages.file);
        expect(resumedPages.pages).toBeLessThan(clonePages.pages + 8192);
        await agent.manager.destroy(created);
      }
    }
    // The background loop kept ticking after the last resume.
    const before = Number(await sh(id, "wc -l < /tmp/ticks"));
    await new Promise((r) => setTimeout(r, 1500));
    expect(Number(await sh(id, "wc -l < /tmp/ticks"))).toBeGreaterThan(before);
    // The guest clock was brought back in line with the host's.
    const guestNow = Number(await sh(id, "date +%s"));
    expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(5);
    await agent.manager.destroy(id);
  });

  it("grows the disk and the guest file system beyond the template's size", async () => {
    const id = newId("bigdisk");
    const sandbox = await agent.manager.create({
      sandboxId: id,
      teamId: "team-a",
      templateId: "minimal",
      diskSizeMb: 6144,
    });
    expect(sandbox.diskSizeMb).toBe(6144);
    const size = Number(await sh(id, "df -B1M --output=size / | tail -1"));
    expect(size).toBeGreaterThan(5500);
    expect(size).toBeLessThanOrEqual(6144);
    // The host stores only what was written: the overlay is far smaller than its apparent size.
    const disk = await diskUsage(sandbox.diskPath);
    expect(disk.apparentBytes).toBe(6144 * 1024 * 1024);
    expect(disk.allocatedBytes).toBeLessThan(64 * 1024 * 1024);
    await agent.manager.destroy(id);
  });

  it("auto-pauses idle sandboxes and destroys one whose pause fails", async () => {
    const reaper = new TtlReaper(agent.manager, createLogger("reaper-test", "silent"));
    const idle = newId("idle");
    await agent.manager.create({ sandboxId: idle, teamId: "team-a", templateId: "minimal", timeoutSec: 1 });
    expect((await reaper.sweep()).paused).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await reaper.sweep()).toEqual({ paused: [idle], destroyed: [] });
    expect(agent.manager.list().autoPausedIds).toEqual([idle]);
    // The TTL survives: resume sets it again and activity postpones the pause.
    await agent.manager.resume(idle, 1);
    expect(agent.manager.list().autoPausedIds).toEqual([]);
    await agent.manager.destroy(idle);

    const broken = newId("broken");
    const view = await agent.manager.create({
      sandboxId: broken,
      teamId: "team-a",
      templateId: "minimal",
      timeoutSec: 1,
    });
    if (!view.pid) throw new Error("no VM pid");
    process.kill(view.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await reaper.sweep()).toEqual({ paused: [], destroyed: [broken] });
    expect(() => agent.manager.get(broken)).toThrow(/not found/);
    await expect(stat(join(agent.dataDir, "sandboxes", broken))).rejects.toThrow();
  });

  it("rejects bad input with clear errors and changes nothing", async () => {
    const before = await readdir(join(agent.dataDir, "sandboxes"));
    const listBefore = agent.manager.list();
    await expect(agent.manager.destroy("no-such-sandbox")).rejects.toMatchObject({ code: "not_found" });
    await expect(agent.manager.pause("no-such-sandbox")).rejects.toMatchObject({ code: "not_found" });
    await expect(agent.manager.resume("no-such-sandbox", 0)).rejects.toMatchObject({ code: "not_found" });
    await expect(agent.manager.ping("no-such-sandbox")).rejects.toMatchObject({ code: "not_found" });
    await expect(agent.manager.ping("no-such-sandbox", 5)).rejects.toMatchObject({ code: "not_found" });
    expect(() => agent.manager.envd("no-such-sandbox")).toThrow(/not found/);
    for (const bad of ["../x", "..", "a/b", ""]) {
      await expect(
        agent.manager.create({ sandboxId: bad, teamId: "team-a", templateId: "minimal" }),
      ).rejects.toMatchObject({ code: "invalid_argument" });
      await expect(
        agent.manager.create({ sandboxId: "ok-id", teamId: "team-a", templateId: bad || "../y" }),
      ).rejects.toMatchObject({ code: "invalid_argument" });
      await expect(agent.manager.destroy(bad)).rejects.toMatchObject({ code: "invalid_argument" });
    }
    await expect(
      agent.manager.create({
        sandboxId: "ok-id",
        teamId: "team-a",
        templateId: "minimal",
        diskSizeMb: 10_000_000,
      }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(
      agent.manager.create({ sandboxId: "ok-id", teamId: "team-a", templateId: "minimal", diskSizeMb: 16 }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(
      agent.manager.create({ sandboxId: "ok-id", teamId: "team-a", templateId: "minimal", vcpus: 100_000 }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(
      agent.manager.create({ sandboxId: "ok-id", teamId: "team-a", templateId: "no-such-template" }),
    ).rejects.toMatchObject({ code: "not_found" });
    expect(await readdir(join(agent.dataDir, "sandboxes"))).toEqual(before);
    expect(agent.manager.list()).toEqual(listBefore);
  });
});
