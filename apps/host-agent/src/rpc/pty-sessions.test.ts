import { createLogger } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import { PtySessions } from "./pty-sessions.ts";

// The idle rule alone, on a hand-driven clock; the VM test covers it against a real envd.
function harness() {
  let now = 0;
  const killed: string[] = [];
  const states = new Map<string, "running" | "paused" | "gone">();
  const outputs = new Map<string, (event: "output" | "end") => void>();
  const sessions = new PtySessions({
    idleTimeoutMs: 120_000,
    checkIntervalMs: 60_000_000, // never fires by itself: the test calls check()
    logger: createLogger("pty-test", "silent"),
    now: () => now,
    sandboxState: (id) => states.get(id) ?? "running",
    kill: async (id, tag) => {
      killed.push(`${id}/${tag}`);
    },
    follow: (id, tag, signal) => ({
      async *[Symbol.asyncIterator]() {
        const queue: ("output" | "end")[] = [];
        let wake: (() => void) | undefined;
        outputs.set(`${id}/${tag}`, (e) => {
          queue.push(e);
          wake?.();
        });
        signal.addEventListener("abort", () => wake?.());
        while (!signal.aborted) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      },
    }),
  });
  return {
    sessions,
    killed,
    states,
    advance: (ms: number) => {
      now += ms;
    },
    emit: async (key: string, e: "output" | "end") => {
      outputs.get(key)?.(e);
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe("PtySessions", () => {
  it("never kills a session while a client is attached", async () => {
    const h = harness();
    h.sessions.attach("sb1", "t");
    h.advance(10 * 60_000);
    await h.sessions.check();
    expect(h.killed).toEqual([]);
    h.sessions.close();
  });

  it("kills a detached session after 120 s without input or output, not before", async () => {
    const h = harness();
    const detach = h.sessions.attach("sb1", "t");
    h.advance(500_000);
    detach();
    h.advance(119_000);
    await h.sessions.check();
    expect(h.killed).toEqual([]);
    h.advance(1_000);
    await h.sessions.check();
    expect(h.killed).toEqual(["sb1/t"]);
    expect(h.sessions.size).toBe(0);
    h.sessions.close();
  });

  it("counts output seen while detached and input as activity", async () => {
    const h = harness();
    h.sessions.attach("sb1", "t")();
    h.advance(100_000);
    await h.emit("sb1/t", "output");
    h.advance(100_000);
    h.sessions.activity("sb1", "t");
    h.advance(100_000);
    await h.sessions.check();
    expect(h.killed).toEqual([]);
    h.advance(20_000);
    await h.sessions.check();
    expect(h.killed).toEqual(["sb1/t"]);
    h.sessions.close();
  });

  it("reconnecting stops the countdown; a second detach starts a fresh one", async () => {
    const h = harness();
    h.sessions.attach("sb1", "t")();
    h.advance(110_000);
    const detach = h.sessions.attach("sb1", "t");
    h.advance(60_000);
    await h.sessions.check();
    expect(h.killed).toEqual([]);
    detach();
    h.advance(119_000);
    await h.sessions.check();
    expect(h.killed).toEqual([]);
    h.sessions.close();
  });

  it("forgets sessions that ended or whose sandbox is gone; paused time does not count", async () => {
    const h = harness();
    h.sessions.attach("sb1", "ended")();
    expect(h.sessions.has("sb1", "ended")).toBe(true);
    expect(h.sessions.has("sb2", "ended")).toBe(false);
    await h.emit("sb1/ended", "end");
    expect(h.sessions.size).toBe(0);
    expect(h.sessions.has("sb1", "ended")).toBe(false);

    h.sessions.attach("sb2", "t")();
    h.states.set("sb2", "paused");
    h.advance(500_000);
    await h.sessions.check();
    h.states.set("sb2", "running");
    h.advance(60_000);
    await h.sessions.check();
    expect(h.killed).toEqual([]);

    h.states.set("sb2", "gone");
    await h.sessions.check();
    expect(h.sessions.size).toBe(0);
    expect(h.killed).toEqual([]);
    h.sessions.close();
  });
});
