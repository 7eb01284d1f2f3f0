import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadChangedPages, saveChangedPages } from "./changed-pages.ts";

describe("the changed-pages bitmap saved with a pause", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "changed-pages-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads back what was saved for a guest of the same size", async () => {
    const file = join(dir, "pause.pages");
    const bitmap = new Uint8Array(16 * 1024); // 512 MiB of 4 KiB pages
    bitmap[0] = 0b101;
    bitmap[16 * 1024 - 1] = 0x80;
    await saveChangedPages(file, bitmap);
    expect(Array.from((await loadChangedPages(file, 512)) ?? [])).toEqual(Array.from(bitmap));
  });

  it("ignores (and removes) a bitmap of another guest size, and a missing one", async () => {
    const file = join(dir, "other.pages");
    await writeFile(file, new Uint8Array(8 * 1024));
    expect(await loadChangedPages(file, 512)).toBeUndefined();
    await expect(stat(file)).rejects.toMatchObject({ code: "ENOENT" });
    expect(await loadChangedPages(join(dir, "missing.pages"), 512)).toBeUndefined();
  });
});
