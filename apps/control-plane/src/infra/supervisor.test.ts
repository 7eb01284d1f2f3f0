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

describe("Supervisor exit guard", () => {
  it("signals started children when its process dies without an ordered stop", async () => {
    const { spawn } = await import("node:child_process");
    const { fileURLToPath } = await import("node:url");
    const supervisorPath = fileURLToPath(new URL("./supervisor.ts", import.meta.url));
    // A process that starts a detached child (own process group, like postgres under `wrenn up`)
    // through the supervisor, prints its pid, then dies of an uncaught error.
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
      setTimeout(() => { throw new Error("boom"); }, 50);
    `;
    const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    expect(code).not.toBe(0);
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
  });
});
