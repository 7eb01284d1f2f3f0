import { createLogger } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import {
  NO_WARM_POOL,
  parseWarmPoolSetting,
  WARM_DIR_PREFIX,
  WarmPool,
  type WarmPoolBackend,
  type WarmTemplate,
  type WarmVmInfo,
} from "./warm-pool.ts";

interface FakeVm extends WarmVmInfo {
  templateId: string;
  alive: boolean;
}

/** A backend whose starts the test releases one by one, recording every start and destroy. */
function fakeBackend(generation = { dir: "gen-1" }) {
  const started: string[] = [];
  const destroyed: string[] = [];
  const pending: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const backend: WarmPoolBackend<FakeVm> = {
    async start(template: WarmTemplate, poolId: string): Promise<FakeVm> {
      started.push(poolId);
      await new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
      return {
        poolId,
        templateId: template.templateId,
        generationDir: generation.dir,
        vcpus: 1,
        memoryMb: 512,
        diskSizeMb: 5120,
        alive: true,
      };
    },
    async destroy(vm: FakeVm) {
      destroyed.push(vm.poolId);
    },
  };
  /** Waits (bounded) until a start is pending, then lets it finish (or fail). */
  const release = async (fail = false) => {
    await until(() => pending.length > 0);
    const next = pending.shift();
    if (fail) next?.reject(new Error("restore failed"));
    else next?.resolve();
  };
  return { backend, started, destroyed, pending, release };
}

async function until(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}

const logger = createLogger("warm-pool-test", "silent");
const minimal: WarmTemplate = { teamId: "platform", templateId: "minimal", templateName: "minimal" };
const want = { generationDir: "gen-1", diskSizeMb: 5120 };

describe("parseWarmPoolSetting", () => {
  it("reads per-template sizes, a default for others, one number, and falls back when unset", () => {
    expect(parseWarmPoolSetting("minimal=2,python=1", NO_WARM_POOL)).toEqual({
      perTemplate: { minimal: 2, python: 1 },
      others: 0,
    });
    expect(parseWarmPoolSetting("minimal=0,*=1", NO_WARM_POOL)).toEqual({
      perTemplate: { minimal: 0 },
      others: 1,
    });
    expect(parseWarmPoolSetting("3", NO_WARM_POOL)).toEqual({ perTemplate: {}, others: 3 });
    expect(parseWarmPoolSetting("0", { perTemplate: { minimal: 1 }, others: 0 })).toEqual(NO_WARM_POOL);
    expect(parseWarmPoolSetting(undefined, { perTemplate: { minimal: 1 }, others: 0 })).toEqual({
      perTemplate: { minimal: 1 },
      others: 0,
    });
  });

  it("refuses malformed settings with the expected form", () => {
    for (const bad of ["minimal", "minimal=-1", "minimal=x", "=2", "minimal=17", "../x=1", "1.5"]) {
      expect(() => parseWarmPoolSetting(bad, NO_WARM_POOL)).toThrow(/WRENN_WARM_POOL must look like/);
    }
  });
});

describe("WarmPool", () => {
  it("fills a template after its first create, one VM at a time, and hands each out once", async () => {
    const f = fakeBackend();
    const pool = new WarmPool(f.backend, { perTemplate: { minimal: 2 }, others: 0 }, logger);
    expect(pool.take("platform", "minimal", want)).toBeUndefined();
    pool.beginCreate();
    pool.endCreate(minimal);
    await f.release();
    await until(() => f.started.length === 2);
    // One at a time: the second start begins only after the first finished.
    expect(f.pending).toHaveLength(1);
    expect(pool.report()).toEqual([{ ...minimal, ready: 1, starting: 1, memoryMb: 1024 }]);
    await f.release();
    await pool.whenIdle();
    expect(pool.report()[0]).toMatchObject({ ready: 2, starting: 0 });
    expect(f.started.every((id) => id.startsWith(WARM_DIR_PREFIX))).toBe(true);

    const a = pool.take("platform", "minimal", want);
    const b = pool.take("platform", "minimal", want);
    expect(a?.poolId).toBe(f.started[0]);
    expect(b?.poolId).toBe(f.started[1]);
    expect(pool.take("platform", "minimal", want)).toBeUndefined();
    expect(pool.generations().size).toBe(0);
    await pool.close();
  });

  it("refills only while no create is in flight", async () => {
    const f = fakeBackend();
    const pool = new WarmPool(f.backend, { perTemplate: {}, others: 1 }, logger);
    pool.beginCreate();
    pool.beginCreate();
    pool.endCreate(minimal);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(f.started).toHaveLength(0);
    pool.endCreate(minimal);
    await until(() => f.started.length === 1);
    await f.release();
    await pool.whenIdle();
    expect(pool.readyVms()).toHaveLength(1);
    expect([...pool.generations()]).toEqual(["gen-1"]);
    await pool.close();
    expect(f.destroyed).toEqual(f.started);
  });

  it("serves only requests it fits and discards VMs of an older generation or that died", async () => {
    const gen = { dir: "gen-1" };
    const f = fakeBackend(gen);
    const pool = new WarmPool(f.backend, { perTemplate: { minimal: 1 }, others: 0 }, logger);
    pool.noteCreate(minimal);
    await f.release();
    await pool.whenIdle();
    expect(pool.take("platform", "minimal", { ...want, diskSizeMb: 10_240 })).toBeUndefined();
    expect(pool.take("platform", "minimal", { ...want, vcpus: 2 })).toBeUndefined();
    expect(pool.take("platform", "minimal", { ...want, memoryMb: 1024 })).toBeUndefined();
    expect(pool.take("team-a", "minimal", want)).toBeUndefined();
    expect(pool.readyVms()).toHaveLength(1);
    const vm = pool.take("platform", "minimal", { ...want, vcpus: 1, memoryMb: 512 });
    expect(vm).toBeDefined();

    pool.noteCreate(minimal);
    await f.release();
    await pool.whenIdle();
    // The template was captured again: the warm VM of gen-1 is stale.
    expect(pool.take("platform", "minimal", { ...want, generationDir: "gen-2" })).toBeUndefined();
    expect(f.destroyed).toEqual([f.started[1]]);

    gen.dir = "gen-2";
    pool.noteCreate(minimal);
    await f.release();
    await pool.whenIdle();
    const [ready] = pool.readyVms();
    if (ready) (ready as FakeVm).alive = false;
    expect(pool.take("platform", "minimal", { ...want, generationDir: "gen-2" })).toBeUndefined();
    expect(f.destroyed).toEqual([f.started[1], f.started[2]]);
    await pool.close();
  });

  it("never starts VMs for a size of 0 and stops after a failed start until the next create", async () => {
    const f = fakeBackend();
    const pool = new WarmPool(f.backend, { perTemplate: { minimal: 0 }, others: 1 }, logger);
    pool.noteCreate(minimal);
    await pool.whenIdle();
    expect(f.started).toHaveLength(0);
    expect(pool.report()).toEqual([]);

    const other: WarmTemplate = { teamId: "team-a", templateId: "tpl-1", templateName: "python" };
    pool.noteCreate(other);
    await f.release(true);
    await pool.whenIdle();
    expect(f.started).toHaveLength(1);
    expect(pool.report()[0]).toMatchObject({ ready: 0, starting: 0 });
    pool.noteCreate(other);
    await f.release();
    await pool.whenIdle();
    expect(pool.report()[0]).toMatchObject({ templateName: "python", ready: 1 });
    await pool.close();
  });

  it("drains a template, destroying a VM that was still starting when it comes up", async () => {
    const f = fakeBackend();
    let changes = 0;
    const pool = new WarmPool(f.backend, { perTemplate: { minimal: 2 }, others: 0 }, logger, () => changes++);
    pool.noteCreate(minimal);
    await f.release();
    await until(() => f.started.length === 2);
    expect(changes).toBe(1);
    await pool.drain("platform", "minimal");
    expect(f.destroyed).toEqual([f.started[0]]);
    expect(changes).toBe(2);
    await f.release();
    await pool.whenIdle();
    expect(f.destroyed).toEqual([f.started[0], f.started[1]]);
    expect(pool.report()).toEqual([]);
    expect(f.started).toHaveLength(2);
    await pool.close();
  });

  it("close waits for a start in progress, destroys everything and refuses new work", async () => {
    const f = fakeBackend();
    const pool = new WarmPool(f.backend, { perTemplate: { minimal: 2 }, others: 0 }, logger);
    pool.noteCreate(minimal);
    await f.release();
    await until(() => f.started.length === 2);
    const closing = pool.close();
    await f.release();
    await closing;
    expect(f.destroyed.sort()).toEqual([...f.started].sort());
    pool.noteCreate(minimal);
    await pool.whenIdle();
    expect(f.started).toHaveLength(2);
    expect(pool.take("platform", "minimal", want)).toBeUndefined();
  });
});
