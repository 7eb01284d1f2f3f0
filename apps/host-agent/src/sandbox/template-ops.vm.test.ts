import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TemplateOperations } from "./template-ops.ts";
import { createTestAgent, type TestAgent } from "./testing.ts";

// Real QEMU microVMs; at most two run at the same time.
let agent: TestAgent;
let ops: TemplateOperations;
const created: string[] = [];
const TEAM = "team-t";

function newId(prefix: string): string {
  const id = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  created.push(id);
  return id;
}

async function sh(id: string, script: string): Promise<{ code: number | undefined; out: string }> {
  const r = await agent.manager
    .envd(id)
    .exec({ cmd: "/bin/bash", args: ["-c", script], user: "root" }, 60_000);
  return { code: r.exitCode, out: r.stdout.toString("utf8") };
}

beforeAll(async () => {
  agent = await createTestAgent();
  ops = new TemplateOperations(
    agent.manager,
    agent.templates,
    agent.driver,
    (await import("@wrenn/common")).createLogger("t", "warn"),
  );
});

afterAll(async () => {
  for (const id of created) await agent?.manager.destroy(id).catch(() => {});
  await agent?.dispose();
});

describe("templates from sandboxes", () => {
  it("snapshots a running sandbox into a template whose new sandboxes see its files", async () => {
    const source = newId("src");
    await agent.manager.create({ sandboxId: source, teamId: TEAM, templateId: "minimal" });
    const marker = `m-${Math.random()}`;
    expect((await sh(source, `echo ${marker} > /root/marker`)).code).toBe(0);

    const result = await ops.createSnapshot(source, TEAM, "tpl-snap");
    expect(result.sizeBytes).toBeGreaterThan(0);
    expect(result.memoryMb).toBe(512);
    // The source keeps running and keeps its files.
    expect(agent.manager.get(source).state).toBe("running");
    expect((await sh(source, "cat /root/marker")).out).toBe(`${marker}\n`);
    await expect(ops.createSnapshot(source, TEAM, "tpl-snap")).rejects.toMatchObject({
      code: "already_exists",
    });

    // Isolation: a plain sandbox does not see the source's files.
    await agent.manager.destroy(source);
    const plain = newId("plain");
    await agent.manager.create({ sandboxId: plain, teamId: TEAM, templateId: "minimal" });
    expect((await sh(plain, "cat /root/marker")).code).not.toBe(0);

    const child = newId("child");
    await agent.manager.create({
      sandboxId: child,
      teamId: TEAM,
      templateId: "tpl-snap",
      templateTeamId: TEAM,
    });
    expect((await sh(child, "cat /root/marker")).out).toBe(`${marker}\n`);
    // Files written in one sandbox stay invisible to the other.
    await sh(child, "echo child-only > /root/child");
    expect((await sh(plain, "cat /root/child")).code).not.toBe(0);
    await agent.manager.destroy(plain);

    // A snapshot taken on another VMM is refused with a clear error, never restored into a hung VM.
    const snap = await agent.templates.current(TEAM, "tpl-snap");
    if (!snap) throw new Error("template generation missing");
    const metaPath = join(snap.dir, "meta.json");
    const original = await readFile(metaPath, "utf8");
    await writeFile(
      metaPath,
      JSON.stringify({ ...snap.meta, vmm: { ...snap.meta.vmm, version: "QEMU 0.0" } }),
    );
    await expect(
      agent.manager.create({
        sandboxId: newId("mismatch"),
        teamId: TEAM,
        templateId: "tpl-snap",
        templateTeamId: TEAM,
      }),
    ).rejects.toMatchObject({ code: "failed_precondition", message: expect.stringMatching(/QEMU 0\.0/) });
    await writeFile(metaPath, original);

    // Deleting the template while a sandbox uses it hides it but keeps the sandbox working.
    await ops.deleteSnapshot(TEAM, "tpl-snap");
    await ops.deleteSnapshot(TEAM, "tpl-snap");
    expect((await sh(child, "cat /root/marker")).code).toBe(0);
    await expect(
      agent.manager.create({
        sandboxId: newId("gone"),
        teamId: TEAM,
        templateId: "tpl-snap",
        templateTeamId: TEAM,
      }),
    ).rejects.toMatchObject({ code: "not_found" });
    await agent.manager.destroy(child);
    expect(await agent.templates.exists(TEAM, "tpl-snap")).toBe(false);
  });

  it("flattens a sandbox's disk into an image-only template", async () => {
    const source = newId("flat");
    await agent.manager.create({ sandboxId: source, teamId: TEAM, templateId: "minimal" });
    await sh(source, "echo flat > /etc/flat-marker");
    const { sizeBytes } = await ops.flattenRootfs(source, TEAM, "img-flat");
    expect(sizeBytes).toBeGreaterThan(0);
    expect(() => agent.manager.get(source)).toThrow(/not found/);

    const child = newId("fchild");
    await agent.manager.create({
      sandboxId: child,
      teamId: TEAM,
      templateId: "img-flat",
      templateTeamId: TEAM,
    });
    expect((await sh(child, "cat /etc/flat-marker")).out).toBe("flat\n");
    await agent.manager.destroy(child);
  });

  it("rejects bad template names", async () => {
    await expect(ops.deleteSnapshot(TEAM, "../x")).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(ops.createSnapshot("nope", TEAM, "../x")).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(ops.createSnapshot("nope", TEAM, "fine")).rejects.toMatchObject({ code: "not_found" });
    await expect(ops.flattenRootfs("nope", "../t", "fine")).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });
});
