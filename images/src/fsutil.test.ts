import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "./exec.ts";
import { hashTree, safeRemove } from "./fsutil.ts";

describe("safeRemove", () => {
  const cleanup: string[] = [];
  afterEach(async () => {
    for (const dir of cleanup.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  // Needs root for mount, like the image build itself (debootstrap mounts inside its target).
  it("unmounts what a crashed debootstrap left mounted and never deletes through a bind mount", async () => {
    const build = await mkdtemp(join(tmpdir(), "wrenn-saferm-build-"));
    const outside = await mkdtemp(join(tmpdir(), "wrenn-saferm-outside-"));
    cleanup.push(build, outside);
    await writeFile(join(outside, "precious"), "keep me");
    await mkdir(join(build, "root/dev/null-like"), { recursive: true });
    await mkdir(join(build, "root/proc"), { recursive: true });
    await run("mount", ["--bind", outside, join(build, "root/dev/null-like")]);
    await run("mount", ["-t", "tmpfs", "tmpfs", join(build, "root/proc")]);
    await writeFile(join(build, "root/proc/scratch"), "x");

    await safeRemove(build);

    expect(existsSync(build)).toBe(false);
    expect(await readFile(join(outside, "precious"), "utf8")).toBe("keep me");
    expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(build);
  });

  it("refuses to remove a top-level directory", async () => {
    await expect(safeRemove("/")).rejects.toThrow(/refusing/);
    await expect(safeRemove("/var")).rejects.toThrow(/refusing/);
  });
});

describe("hashTree", () => {
  it("changes with file contents, names and permission bits", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wrenn-hashtree-"));
    try {
      await writeFile(join(dir, "a"), "1");
      const h1 = await hashTree(dir);
      expect(await hashTree(dir)).toBe(h1);
      await writeFile(join(dir, "a"), "2");
      const h2 = await hashTree(dir);
      expect(h2).not.toBe(h1);
      await run("chmod", ["755", join(dir, "a")]);
      expect(await hashTree(dir)).not.toBe(h2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
