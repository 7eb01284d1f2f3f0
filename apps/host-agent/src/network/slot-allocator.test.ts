import { WrennError } from "@wrenn/common";
import { describe, expect, it } from "vitest";
import { SlotAllocator } from "./slot-allocator.ts";

describe("SlotAllocator", () => {
  it("hands out 1,000 distinct slots, then reports exhaustion", () => {
    const slots = new SlotAllocator({ first: 1, last: 1000 });
    const taken = Array.from({ length: 1000 }, () => slots.allocate());
    expect(new Set(taken).size).toBe(1000);
    expect(Math.min(...taken)).toBe(1);
    expect(Math.max(...taken)).toBe(1000);
    expect(slots.inUse).toBe(1000);
    expect(() => slots.allocate()).toThrow(expect.objectContaining({ code: "resource_exhausted" }));
  });

  it("reuses a released slot and never hands out an allocated one", () => {
    const slots = new SlotAllocator({ first: 10, last: 13 });
    const [a, b, c, d] = [slots.allocate(), slots.allocate(), slots.allocate(), slots.allocate()];
    expect([a, b, c, d]).toEqual([10, 11, 12, 13]);
    expect(slots.release(11)).toBe(true);
    expect(slots.release(11)).toBe(false);
    expect(slots.allocate()).toBe(11);
    expect(() => slots.allocate()).toThrow(WrennError);
  });

  it("prefers slots not used recently (next-fit)", () => {
    const slots = new SlotAllocator({ first: 1, last: 5 });
    const first = slots.allocate();
    slots.release(first);
    expect(slots.allocate()).toBe(2);
  });

  it("reserves specific slots and rejects double reservation or out-of-range slots", () => {
    const slots = new SlotAllocator({ first: 1, last: 3 });
    slots.reserve(2);
    expect(slots.isAllocated(2)).toBe(true);
    expect(() => slots.reserve(2)).toThrow(expect.objectContaining({ code: "already_exists" }));
    expect(() => slots.reserve(4)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect([slots.allocate(), slots.allocate()]).toEqual([1, 3]);
  });

  it("rejects non-integer and out-of-bounds indices", () => {
    const slots = new SlotAllocator({ last: 10 });
    for (const bad of [0, -1, 1.5, Number.NaN, 10_000]) {
      expect(() => slots.release(bad)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    }
    expect(() => new SlotAllocator({ last: 10_000 })).toThrow(WrennError);
  });
});
