import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { listenAll } from "./listeners.ts";

describe("listenAll", () => {
  it("adds every listener and removes exactly those again", () => {
    const a = new EventEmitter();
    const b = new EventEmitter();
    const seen: string[] = [];
    const other = () => seen.push("other");
    a.on("x", other);
    const off = listenAll([
      [a, "x", (v: string) => seen.push(`a:${v}`)],
      [b, "y", () => seen.push("b")],
    ]);
    a.emit("x", "1");
    b.emit("y");
    off();
    a.emit("x", "2");
    b.emit("y");
    expect(seen).toEqual(["other", "a:1", "b", "other"]);
    expect(a.listenerCount("x")).toBe(1);
    expect(b.listenerCount("y")).toBe(0);
  });
});
