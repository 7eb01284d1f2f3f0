import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { isProcessAlive } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import { type Component, Supervisor } from "./supervisor.ts";

function fake(name: string, events: string[], opts: { failStart?: boolean } = {}) {
  let die: () => void = () => undefined;
  const died = new Promise<void>((r) => {
    die = r;
  });
  const c: Component = {
    name,
    async start() {
      if (opts.failStart) throw new Error(`${name} broke`);
      events.push(`start ${name}`);
    },
    async stop() {
      events.push(`stop ${name}`);
    },
    exited: () => died,
  };
  return { c, die };
}

describe("Supervisor", () => {
  it("starts in order and, when one component dies, stops the rest in reverse order (exit code 1)", async () => {
    const events: string[] = [];
    const lines: string[] = [];
    const a = fake("postgres", events);
    const b = fake("redis", events);
    const c = fake("control plane", events);
    const s = new Supervisor((l) => lines.push(l)).add(a.c).add(b.c).add(c.c);
    const done = s.waitForShutdown({ signals: false });
    await s.startAll();
    b.die();
    expect(await done).toBe(1);
    expect(events).toEqual([
      "start postgres",
      "start redis",
      "start control plane",
      "stop control plane",
      "stop redis",
      "stop postgres",
    ]);
    expect(lines[0]).toBe("redis exited unexpectedly; stopping everything");
  });

  it("stops what already started when a later component fails to start", async () => {
    const events: string[] = [];
    const s = new Supervisor(() => undefined)
      .add(fake("postgres", events).c)
      .add(fake("redis", events, { failStart: true }).c)
      .add(fake("control plane", events).c);
    await expect(s.startAll()).rejects.toThrow("redis broke");
    expect(events).toEqual(["start postgres", "stop postgres"]);
  });
});

/**
 * Runs a process that starts a detached child (own process group, like postgres under `wrenn up`)
 * through the supervisor, prints its pid, then ends as `ending` says (50 ms later); answers how it
 * ended and whether the child was gone within 5 s.
 */
async function superviseSleeperThen(ending: string) {
  const supervisorPath = fileURLToPath(new URL("./supervisor.ts", import.meta.url));
  const script = `
    import { spawn } from "node:child_process";
    import { Supervisor } from ${JSON.stringify(supervisorPath)};
    let child;
    const s = new Supervisor(() => undefined).add({
      name: "sleeper",
      async start() { child = spawn("sleep", ["300"], { detached: true, stdio: "ignore" }); },
      async stop() { child?.kill(); },
      pid: () => child?.pid,
    });
    await s.startAll();
    console.log(child.pid);
    setTimeout(() => { ${ending} }, 50);
  `;
  const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  proc.stdout.on("data", (d) => {
    out += d;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    proc.once("exit", (c, sig) => resolve([c, sig])),
  );
  const pid = Number(out.trim());
  expect(pid).toBeGreaterThan(0);
  for (let i = 0; i < 50 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return { code, signal, childAlive: isProcessAlive(pid) };
}

describe("Supervisor exit guard", () => {
  it("signals started children when its process dies without an ordered stop", async () => {
    const r = await superviseSleeperThen('throw new Error("boom");');
    expect(r.code).not.toBe(0);
    expect(r.childAlive).toBe(false);
  });
});

describe("Supervisor parent-death watch", () => {
  it("ends a started child when the supervising process is SIGKILLed (no exit hook runs)", async () => {
    // SIGKILL runs no exit hook: only the watcher process (pipe closed by the kernel) can act.
    const r = await superviseSleeperThen('process.kill(process.pid, "SIGKILL");');
    expect(r.signal).toBe("SIGKILL");
    expect(r.childAlive).toBe(false);
  });

  it("tells the watcher each child it started, forgets those it stopped, then releases it", async () => {
    const calls: string[] = [];
    const reaper = {
      watch: (pid: number, signal?: NodeJS.Signals, graceMs?: number) =>
        calls.push(`watch ${pid} ${signal ?? "default"} ${graceMs}`),
      forget: (pid: number) => calls.push(`forget ${pid}`),
      release: () => calls.push("release"),
    };
    const events: string[] = [];
    const s = new Supervisor(() => undefined, reaper)
      .add({ ...fake("postgres", events).c, pid: () => 11, orphanSignal: "SIGINT" })
      .add(fake("control plane", events).c) // no child process: nothing to watch
      .add({ ...fake("redis", events).c, pid: () => 12, stopTimeoutMs: 5000 });
    await s.startAll();
    await s.stopAll();
    expect(calls).toEqual([
      "watch 11 SIGINT 15000",
      "watch 12 default 5000",
      "forget 12",
      "forget 11",
      "release",
    ]);
  });
});
