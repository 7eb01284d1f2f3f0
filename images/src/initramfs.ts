import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { errors } from "@wrenn/common";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import { commandExists } from "./exec.ts";
import type { KernelModule } from "./kernel.ts";

/** Everything that goes into the initramfs. */
export interface InitramfsInputs {
  /** Bytes of a statically linked busybox. */
  busybox: Uint8Array;
  /** Text of the `/init` script. */
  initScript: string;
  /** Modules in load order. */
  modules: readonly KernelModule[];
}

const PT_INTERP = 3;

/** True when `elf` is an ELF64 executable without a dynamic loader (i.e. statically linked). */
export function isStaticElf(elf: Uint8Array): boolean {
  const b = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > b.length) return false;
    if (b.readUInt32LE(at) === PT_INTERP) return false;
  }
  return true;
}

/** Reads a module file, decompressing `.ko.xz` / `.ko.zst` / `.ko.gz` (busybox insmod wants plain `.ko`). */
export async function readModule(path: string): Promise<Buffer> {
  if (path.endsWith(".ko")) return readFile(path);
  if (path.endsWith(".ko.gz")) return gunzipSync(await readFile(path));
  const tool = path.endsWith(".ko.xz") ? "xz" : path.endsWith(".ko.zst") ? "zstd" : undefined;
  if (!tool) throw errors.internal(`unknown kernel module format: ${path}`);
  if (!(await commandExists(tool))) {
    throw errors.failedPrecondition(
      `${path} is compressed; install ${tool === "xz" ? "xz-utils" : "zstd"} to unpack it`,
    );
  }
  const res = spawnSync(tool, ["-dc", path], { maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw errors.internal(`${tool} -dc ${path} failed: ${res.stderr.toString()}`);
  return res.stdout;
}

/**
 * Builds the gzip-compressed initramfs: busybox, the virtio modules with their load order
 * in `/lib/modules/load-order`, `/dev/console` for the first console, and `/init`.
 */
export async function buildInitramfs(inputs: InitramfsInputs): Promise<Buffer> {
  if (!isStaticElf(inputs.busybox)) {
    throw errors.failedPrecondition("busybox is not statically linked; install the busybox-static package");
  }
  const entries: CpioEntry[] = [
    { type: "dir", path: "bin" },
    { type: "dir", path: "dev" },
    { type: "chardev", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
    { type: "chardev", path: "dev/null", major: 1, minor: 3, mode: 0o666 },
    { type: "dir", path: "proc" },
    { type: "dir", path: "sys" },
    { type: "dir", path: "newroot" },
    { type: "dir", path: "lib" },
    { type: "dir", path: "lib/modules" },
    { type: "file", path: "bin/busybox", data: inputs.busybox, mode: 0o755 },
    { type: "symlink", path: "bin/sh", target: "busybox" },
  ];
  for (const mod of inputs.modules) {
    entries.push({ type: "file", path: `lib/modules/${mod.name}.ko`, data: await readModule(mod.path) });
  }
  const order = `${inputs.modules.map((m) => m.name).join("\n")}\n`;
  entries.push({ type: "file", path: "lib/modules/load-order", data: Buffer.from(order) });
  entries.push({ type: "file", path: "init", data: Buffer.from(inputs.initScript), mode: 0o755 });
  return gzipSync(writeCpio(entries), { level: 9 });
}
