import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileMetadataStore, MAX_METADATA_KEY_LENGTH, metadataFromHeaders } from "./xattr.ts";

describe("metadataFromHeaders", () => {
  it("takes X-Metadata-* headers, lower-cases keys, keeps the first of repeats, drops an empty key", () => {
    expect(
      metadataFromHeaders([
        "Content-Type",
        "text/plain",
        "X-Metadata-Owner",
        "alice",
        "x-metadata-owner",
        "bob",
        "X-Metadata-",
        "ignored",
        "x-metadata-build-id",
        "42",
      ]),
    ).toEqual({ owner: "alice", "build-id": "42" });
    expect(metadataFromHeaders(["X-Access-Token", "t"])).toBeUndefined();
  });

  it("refuses what E2B's envd refuses, as invalid_argument", () => {
    const tooLongKey = "k".repeat(MAX_METADATA_KEY_LENGTH + 1);
    expect(() => metadataFromHeaders([`x-metadata-${tooLongKey}`, "v"])).toThrow(/longer than/);
    expect(() => metadataFromHeaders(["x-metadata-a", "caf\u00e9"])).toThrow(/printable US-ASCII/);
    const big = ["x-metadata-a", "v".repeat(2100), "x-metadata-b", "v".repeat(2100)];
    expect(() => metadataFromHeaders(big)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
  });
});

describe("FileMetadataStore (python3 helper, user.e2b.* xattrs)", () => {
  const store = new FileMetadataStore(createLogger("test"));
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "envd-xattr-"));
  });
  afterAll(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("replaces, reads in one batch, and clears metadata", async () => {
    const a = join(dir, "a.txt");
    const b = join(dir, "b.txt");
    await writeFile(a, "a");
    await writeFile(b, "b");
    await store.replace(a, { owner: "alice", stale: "x" });
    expect(await store.replace(a, { owner: "alice", purpose: "test" })).toBe(true);
    expect(await store.read([a, b, join(dir, "missing")])).toEqual([
      { owner: "alice", purpose: "test" },
      undefined,
      undefined,
    ]);
    await store.replace(a, {});
    expect(await store.read([a])).toEqual([undefined]);
  });

  it("answers concurrent requests in order", async () => {
    const paths = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const path = join(dir, `c${i}`);
        await writeFile(path, "");
        await store.replace(path, { n: String(i) });
        return path;
      }),
    );
    const reads = await Promise.all(paths.map((path) => store.read([path])));
    expect(reads.map(([m]) => m?.n)).toEqual(paths.map((_, i) => String(i)));
  });

  it("reads and keeps nothing, without failing, when python3 is missing", async () => {
    const none = new FileMetadataStore(createLogger("test"), "/nonexistent/python3");
    const path = join(dir, "a.txt");
    expect(await none.read([path])).toEqual([undefined]);
    expect(await none.replace(path, { a: "b" })).toBe(false);
    expect(await none.read([path])).toEqual([undefined]);
    none.close();
  });

  it("keeps nothing, without failing, on a filesystem without user xattrs", async () => {
    expect(await store.replace("/proc/self/status", { a: "b" })).toBe(false);
    expect(await store.read(["/proc/self/status"])).toEqual([undefined]);
  });

  it("refuses a value the filesystem cannot hold as invalid_argument", async () => {
    const path = join(dir, "huge");
    await writeFile(path, "");
    await expect(store.replace(path, { big: "v".repeat(70_000) })).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });
});
