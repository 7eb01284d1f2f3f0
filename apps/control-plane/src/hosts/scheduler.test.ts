import { describe, expect, it } from "vitest";
import {
  createScheduler,
  type HostCandidate,
  LeastLoadedScheduler,
  RoundRobinScheduler,
} from "./scheduler.ts";

const host = (id: string, over: Partial<HostCandidate> = {}): HostCandidate => ({
  id,
  cpuCount: 4,
  memoryMb: 8192,
  sandboxes: 0,
  vcpusReserved: 0,
  memoryMbReserved: 0,
  ...over,
});
const req = { vcpus: 1, memoryMb: 512 };

describe("RoundRobinScheduler", () => {
  it("cycles through hosts in id order and wraps around", () => {
    const s = new RoundRobinScheduler();
    const hosts = [host("c"), host("a"), host("b")];
    expect([1, 2, 3, 4, 5].map(() => s.pick(hosts, req))).toEqual(["a", "b", "c", "a", "b"]);
  });

  it("keeps rotating fairly when a host disappears or appears", () => {
    const s = new RoundRobinScheduler();
    expect(s.pick([host("a"), host("b"), host("c")], req)).toBe("a");
    expect(s.pick([host("a"), host("c")], req)).toBe("c");
    expect(s.pick([host("a"), host("b"), host("c"), host("d")], req)).toBe("d");
    expect(s.pick([host("a"), host("b")], req)).toBe("a");
  });

  it("answers unavailable with a clear message when no host is online", () => {
    expect(() => new RoundRobinScheduler().pick([], req)).toThrow(/no online host/);
  });
});

describe("LeastLoadedScheduler", () => {
  it("prefers the host with the most free memory after the placement", () => {
    const s = new LeastLoadedScheduler();
    const hosts = [
      host("a", { memoryMbReserved: 4096, sandboxes: 4 }),
      host("b", { memoryMbReserved: 1024, sandboxes: 1 }),
      host("c", { memoryMb: 4096, memoryMbReserved: 0 }),
    ];
    expect(s.pick(hosts, req)).toBe("b");
  });

  it("breaks ties by sandbox count, then id", () => {
    const s = new LeastLoadedScheduler();
    expect(s.pick([host("b", { sandboxes: 2 }), host("a", { sandboxes: 3 })], req)).toBe("b");
    expect(s.pick([host("b"), host("a")], req)).toBe("a");
  });

  it("skips hosts that would be overcommitted while another still fits", () => {
    const s = new LeastLoadedScheduler();
    const hosts = [
      host("big-but-full", { memoryMb: 16384, memoryMbReserved: 16000 }),
      host("small", { memoryMb: 1024 }),
    ];
    expect(s.pick(hosts, { vcpus: 1, memoryMb: 1000 })).toBe("small");
  });

  it("still places when every host is full (the agent decides), on the least overcommitted", () => {
    const s = new LeastLoadedScheduler();
    const hosts = [
      host("a", { memoryMb: 1024, memoryMbReserved: 2048 }),
      host("b", { memoryMb: 1024, memoryMbReserved: 1024 }),
    ];
    expect(s.pick(hosts, req)).toBe("b");
  });

  it("answers unavailable when no host is online", () => {
    expect(() => new LeastLoadedScheduler().pick([], req)).toThrow(/no online host/);
  });
});

describe("createScheduler", () => {
  it("builds a scheduler by name and rejects unknown names", () => {
    expect(createScheduler("round-robin").name).toBe("round-robin");
    expect(createScheduler("least-loaded").name).toBe("least-loaded");
    expect(() => createScheduler("random")).toThrow(/unknown scheduler/);
  });
});
