import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  assertCompatible,
  compatibilityProblems,
  readMetadata,
  type SnapshotMetadata,
  writeMetadata,
} from "./metadata.ts";

const fingerprint = { driver: "qemu-microvm", version: "QEMU 7.2", accel: "tcg", machine: "microvm;cpu=max" };
const meta: SnapshotMetadata = {
  format: 1,
  vcpus: 1,
  memoryMb: 512,
  diskBytes: 5 * 1024 ** 3,
  kernelArgs: "quiet",
  imageHash: "abc",
  kernelBytes: 1,
  initrdBytes: 1,
  vmm: fingerprint,
  networkKind: "user",
  envdVersion: "0.1.0",
  source: "image",
  createdAt: new Date(0).toISOString(),
};

describe("snapshot metadata", () => {
  it("accepts a restore on the same VMM and network kind", () => {
    expect(compatibilityProblems(meta, fingerprint, "user")).toEqual([]);
    expect(() => assertCompatible(meta, fingerprint, "user", "template x")).not.toThrow();
  });

  it("names every mismatch in one failed_precondition error", () => {
    const other = { ...fingerprint, version: "QEMU 9.0", accel: "kvm" };
    expect(compatibilityProblems(meta, other, "netns-tap")).toHaveLength(3);
    expect(() => assertCompatible(meta, other, "netns-tap", "template x")).toThrow(
      expect.objectContaining({
        code: "failed_precondition",
        message: expect.stringMatching(/QEMU 9\.0.*kvm/s),
      }),
    );
  });

  it("round-trips through disk and treats unreadable or foreign files as missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wrenn-meta-"));
    try {
      await writeMetadata(join(dir, "meta.json"), meta);
      expect(await readMetadata(join(dir, "meta.json"))).toEqual(meta);
      await writeFile(join(dir, "bad.json"), "{not json");
      expect(await readMetadata(join(dir, "bad.json"))).toBeUndefined();
      await writeFile(join(dir, "v2.json"), JSON.stringify({ ...meta, format: 2 }));
      expect(await readMetadata(join(dir, "v2.json"))).toBeUndefined();
      expect(await readMetadata(join(dir, "missing.json"))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
