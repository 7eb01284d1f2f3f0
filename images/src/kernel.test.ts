import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WrennError } from "@wrenn/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findGuestKernel, INITRAMFS_MODULES, resolveModules } from "./kernel.ts";

describe("resolveModules", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "wrenn-modules-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("orders dependencies first, adds unlisted ones, skips built-ins and accepts compressed modules", async () => {
    await writeFile(
      join(dir, "modules.dep"),
      [
        "kernel/a/ring.ko.xz:",
        "kernel/a/core.ko.xz: kernel/a/ring.ko.xz",
        "kernel/b/net-drv.ko.zst: kernel/a/core.ko.xz kernel/a/ring.ko.xz kernel/c/fail.ko",
        "kernel/c/fail.ko:",
        "",
      ].join("\n"),
    );
    await writeFile(join(dir, "modules.builtin"), "kernel/d/ext4.ko\n");
    const mods = await resolveModules(dir, ["net_drv", "ext4", "ring"]);
    const names = mods.map((m) => m.name);
    expect([...names].sort()).toEqual(["core", "fail", "net_drv", "ring"]);
    expect(names.indexOf("ring")).toBeLessThan(names.indexOf("core"));
    expect(names.at(-1)).toBe("net_drv");
    expect(mods.at(-1)?.path).toBe(join(dir, "kernel/b/net-drv.ko.zst"));
  });

  it("fails with failed_precondition naming a module that does not exist", async () => {
    await writeFile(join(dir, "modules.dep"), "kernel/a/ring.ko:\n");
    await expect(resolveModules(dir, ["nope"])).rejects.toMatchObject({
      code: "failed_precondition",
      message: expect.stringContaining("nope"),
    });
  });

  it("reports a missing cloud kernel clearly", async () => {
    await mkdir(join(dir, "boot"));
    const err = await findGuestKernel(join(dir, "boot"), join(dir, "modules")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrennError);
    expect((err as WrennError).message).toContain("linux-image-cloud-amd64");
  });
});

describe("the host's Debian cloud kernel", () => {
  it("provides the virtio modules in the documented load order", async () => {
    const kernel = await findGuestKernel();
    expect(kernel.version).toMatch(/-cloud-amd64$/);
    const mods = await resolveModules(kernel.modulesDir, INITRAMFS_MODULES);
    expect(mods.map((m) => m.name)).toEqual([...INITRAMFS_MODULES]);
  });
});
