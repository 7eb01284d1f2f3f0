import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MANIFEST_SCHEMA_VERSION } from "./manifest.ts";
import { IMAGE_FILES, imageLayout } from "./paths.ts";
import { pruneGuestImages } from "./prune.ts";
import { listGuestImages, resolveGuestImage } from "./resolve.ts";

async function fakeImage(dir: string, hash: string, builtAt: string, opts: { manifest?: boolean } = {}) {
  await mkdir(dir, { recursive: true });
  for (const f of [IMAGE_FILES.kernel, IMAGE_FILES.initrd, IMAGE_FILES.rootfs])
    await writeFile(join(dir, f), "x");
  if (opts.manifest !== false) {
    const manifest = { schemaVersion: MANIFEST_SCHEMA_VERSION, hash, builtAt, artifacts: {} };
    await writeFile(join(dir, IMAGE_FILES.manifest), JSON.stringify(manifest));
  }
}

describe("resolveGuestImage", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "wrenn-resolve-"));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("fails with failed_precondition and the build hint when nothing was built", async () => {
    await expect(resolveGuestImage(dataDir)).rejects.toMatchObject({
      code: "failed_precondition",
      message: "guest image not built; run `wrenn image build`",
    });
  });

  it("ignores interrupted builds and picks the newest complete image", async () => {
    const layout = imageLayout(dataDir);
    await fakeImage(join(layout.root, "tmp-abc"), "tmp-abc", "2030-01-01T00:00:00.000Z");
    await fakeImage(layout.imageDir("aaaa"), "aaaa", "2026-01-01T00:00:00.000Z");
    await fakeImage(layout.imageDir("bbbb"), "bbbb", "2026-06-01T00:00:00.000Z");
    await fakeImage(layout.imageDir("cccc"), "cccc", "2029-01-01T00:00:00.000Z", { manifest: false });
    await fakeImage(layout.imageDir("dddd"), "not-dddd", "2029-01-01T00:00:00.000Z");
    const image = await resolveGuestImage(dataDir);
    expect(image.hash).toBe("bbbb");
    expect(image.rootfs).toBe(join(layout.imageDir("bbbb"), "rootfs.ext4"));
    expect((await listGuestImages(dataDir)).map((i) => i.hash)).toEqual(["bbbb", "aaaa"]);
  });

  it("treats an image with a missing artifact as incomplete", async () => {
    const layout = imageLayout(dataDir);
    await fakeImage(layout.imageDir("eeee"), "eeee", "2026-01-01T00:00:00.000Z");
    await rm(join(layout.imageDir("eeee"), IMAGE_FILES.rootfs));
    await expect(resolveGuestImage(dataDir)).rejects.toMatchObject({ code: "failed_precondition" });
  });

  it("uses WRENN_DATA_DIR when no directory is given", async () => {
    await fakeImage(imageLayout(dataDir).imageDir("ffff"), "ffff", "2026-01-01T00:00:00.000Z");
    const saved = process.env.WRENN_DATA_DIR;
    process.env.WRENN_DATA_DIR = dataDir;
    try {
      expect((await resolveGuestImage()).hash).toBe("ffff");
    } finally {
      if (saved === undefined) delete process.env.WRENN_DATA_DIR;
      else process.env.WRENN_DATA_DIR = saved;
    }
  });

  it("prunes all but the newest images, and refuses to keep none", async () => {
    const layout = imageLayout(dataDir);
    await fakeImage(layout.imageDir("a1"), "a1", "2026-01-01T00:00:00.000Z");
    await fakeImage(layout.imageDir("b2"), "b2", "2026-02-01T00:00:00.000Z");
    await fakeImage(layout.imageDir("c3"), "c3", "2026-03-01T00:00:00.000Z");
    await expect(pruneGuestImages({ dataDir, keep: 0 })).rejects.toMatchObject({ code: "invalid_argument" });
    const removed = await pruneGuestImages({ dataDir, keep: 2 });
    expect(removed.map((i) => i.hash)).toEqual(["a1"]);
    expect((await listGuestImages(dataDir)).map((i) => i.hash)).toEqual(["c3", "b2"]);
    expect(existsSync(layout.imageDir("a1"))).toBe(false);
  });
});
