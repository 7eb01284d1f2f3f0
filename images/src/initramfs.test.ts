import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { run } from "./exec.ts";
import { buildInitramfs, isStaticElf } from "./initramfs.ts";
import { BUSYBOX_PATH, readGuestScripts } from "./inputs.ts";
import { findGuestKernel, INITRAMFS_MODULES, resolveModules } from "./kernel.ts";

describe("buildInitramfs", () => {
  it("packs static busybox, /init, /dev/console and the virtio modules in load order", async () => {
    const kernel = await findGuestKernel();
    const modules = await resolveModules(kernel.modulesDir, INITRAMFS_MODULES);
    const scripts = await readGuestScripts();
    const gz = await buildInitramfs({
      busybox: await readFile(BUSYBOX_PATH),
      initScript: scripts.initramfsInit,
      modules,
    });
    const archive = gunzipSync(gz);

    const { stdout } = await run("cpio", ["-itv", "--quiet"], { input: archive });
    expect(stdout).toMatch(/^-rwxr-xr-x .* init$/m);
    expect(stdout).toMatch(/^-rwxr-xr-x .* bin\/busybox$/m);
    expect(stdout).toMatch(/^crw------- .* 5, +1 .* dev\/console$/m);
    for (const name of INITRAMFS_MODULES) expect(stdout).toContain(`lib/modules/${name}.ko`);

    const { stdout: order } = await run("cpio", ["-i", "--quiet", "--to-stdout", "lib/modules/load-order"], {
      input: archive,
    });
    expect(order.trim().split("\n")).toEqual([...INITRAMFS_MODULES]);
  });

  it("tells static from dynamic executables", async () => {
    expect(isStaticElf(await readFile(BUSYBOX_PATH))).toBe(true);
    expect(isStaticElf(await readFile(process.execPath))).toBe(false);
    expect(isStaticElf(Buffer.from("#!/bin/sh\n"))).toBe(false);
  });
});
