import { describe, expect, it } from "vitest";
import { enterRawMode } from "./terminal.ts";

function fakeTty(isTTY = true) {
  const calls: boolean[] = [];
  const tty = {
    isTTY,
    isRaw: false,
    setRawMode(mode: boolean) {
      calls.push(mode);
      tty.isRaw = mode;
    },
  };
  return { tty, calls };
}

describe("enterRawMode", () => {
  it("sets raw mode and restores it once, also from the exit hook", () => {
    const { tty, calls } = fakeTty();
    let hook: (() => void) | undefined;
    let unhooked = false;
    const restore = enterRawMode(tty, (fn) => {
      hook = fn;
      return () => {
        unhooked = true;
      };
    });
    expect(calls).toEqual([true]);
    restore();
    restore();
    hook?.();
    expect(calls).toEqual([true, false]);
    expect(unhooked).toBe(true);
  });

  it("restores from the exit hook when the code never did", () => {
    const { tty, calls } = fakeTty();
    let hook: (() => void) | undefined;
    enterRawMode(tty, (fn) => {
      hook = fn;
      return () => {};
    });
    hook?.();
    expect(calls).toEqual([true, false]);
    expect(tty.isRaw).toBe(false);
  });

  it("does nothing for a pipe", () => {
    const { tty, calls } = fakeTty(false);
    enterRawMode(tty)();
    expect(calls).toEqual([]);
  });
});
