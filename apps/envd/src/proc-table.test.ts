import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProcTable } from "./proc-table.ts";

describe("ProcTable", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempFile = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), "proc-table-"));
    dirs.push(dir);
    const path = join(dir, "table");
    writeFileSync(path, text);
    return path;
  };

  it("returns the text, then undefined while the bytes stay the same, then the new text", () => {
    const path = tempFile("a\n");
    const table = new ProcTable(path);
    expect(table.read()).toBe("a\n");
    expect(table.read()).toBeUndefined();
    appendFileSync(path, "b\n");
    expect(table.read()).toBe("a\nb\n");
    writeFileSync(path, "c\n");
    expect(table.read()).toBe("c\n");
    table.close();
  });

  it("reads files larger than its first buffer whole", () => {
    const big = "x".repeat(100_000);
    const table = new ProcTable(tempFile(big));
    expect(table.read()).toBe(big);
    table.close();
  });

  it("reads a real procfs table again from the start each time", () => {
    const table = new ProcTable("/proc/self/status");
    const first = table.read();
    expect(first).toMatch(/^Name:/);
    // /proc/self/status changes between reads (context switches): a fresh, whole text each time.
    const second = table.read() ?? first;
    expect(second).toMatch(/^Name:/);
    table.close();
  });

  it("gives an empty text for a file that cannot be read, and recovers when it appears", () => {
    const dir = mkdtempSync(join(tmpdir(), "proc-table-"));
    dirs.push(dir);
    const table = new ProcTable(join(dir, "missing"));
    expect(table.read()).toBe("");
    writeFileSync(join(dir, "missing"), "now\n");
    expect(table.read()).toBe("now\n");
    table.close();
  });
});
