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
