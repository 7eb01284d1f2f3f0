import { describe, expect, it } from "vitest";
import { EventQueue } from "./event-queue.ts";

describe("EventQueue", () => {
  it("drops the oldest output beyond its capacity but never the end event", async () => {
    const queue = new EventQueue(100_000);
    for (let i = 0; i < 50; i++)
      queue.push({ kind: "data", stream: "stdout", data: Buffer.alloc(10_000, i) });
    queue.push({ kind: "end", exitCode: 0, exited: true, status: "exit status 0" });
    queue.close();
    let bytes = 0;
    let last: unknown;
    for (;;) {
      const event = await queue.next(10);
      if (event === undefined || event === "timeout") break;
      if (event.kind === "data") bytes += event.data.length;
      last = event;
    }
    expect(bytes).toBeLessThanOrEqual(100_000);
    expect(bytes).toBeGreaterThan(0);
    expect(queue.droppedBytes).toBe(500_000 - bytes);
    expect(last).toMatchObject({ kind: "end", exitCode: 0 });
  });

  it("keeps the newest bytes in order", async () => {
    const queue = new EventQueue(10);
    for (const text of ["aaaa", "bbbb", "cccc", "dddd"])
      queue.push({ kind: "data", stream: "stdout", data: Buffer.from(text) });
    queue.close();
    let out = "";
    for (;;) {
      const event = await queue.next(10);
      if (event === undefined || event === "timeout") break;
      if (event.kind === "data") out += event.data.toString();
    }
    expect("aaaabbbbccccdddd".endsWith(out)).toBe(true);
    expect(out.length).toBeLessThanOrEqual(10);
  });

  it("times out when idle and wakes up on new events or abort", async () => {
    const queue = new EventQueue(1000);
    expect(await queue.next(20)).toBe("timeout");
    setTimeout(() => queue.push({ kind: "data", stream: "stderr", data: Buffer.from("x") }), 10);
    expect(await queue.next(5000)).toMatchObject({ kind: "data", stream: "stderr" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    expect(await queue.next(5000, controller.signal)).toBeUndefined();
  });
});
