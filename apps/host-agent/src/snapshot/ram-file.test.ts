import { mkdtemp, open, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fillRamFileHoles } from "./ram-file.ts";

describe("fillRamFileHoles", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("gives every page of a sparse file a block and keeps its bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ram-file-"));
    dirs.push(dir);
    const path = join(dir, "memory.ram");
    const size = 8 * 1024 * 1024;
    await writeFile(path, "");
    await truncate(path, size);
    const handle = await open(path, "r+");
    await handle.write(Buffer.from("guest page"), 0, 10, 4 * 1024 * 1024);
    await handle.close();
    const before = await readFile(path);
    // A file system that stores the holes: far fewer blocks than bytes.
    expect((await stat(path)).blocks * 512).toBeLessThan(size / 2);

    await fillRamFileHoles(path);

    const after = await stat(path);
    expect(after.size).toBe(size);
    expect(after.blocks * 512).toBeGreaterThanOrEqual(size);
    expect((await readFile(path)).equals(before)).toBe(true);
    expect(await readFile(`${path}.filling`).catch(() => "gone")).toBe("gone");
  });
});
