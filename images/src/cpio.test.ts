import { mkdtemp, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeCpio } from "./cpio.ts";
import { run } from "./exec.ts";

describe("writeCpio", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const archive = () =>
    writeCpio([
      { type: "dir", path: "bin" },
      { type: "file", path: "bin/hello", data: Buffer.from("#!/bin/sh\necho hi\n"), mode: 0o755 },
      { type: "symlink", path: "bin/sh", target: "hello" },
      { type: "dir", path: "dev" },
      { type: "chardev", path: "dev/console", major: 5, minor: 1 },
      { type: "file", path: "odd", data: Buffer.from("abc") },
    ]);

  it("produces an archive GNU cpio lists with the right types, modes and device numbers", async () => {
    const { stdout } = await run("cpio", ["-itv", "--quiet"], { input: archive() });
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^drwxr-xr-x .* root +root .* bin$/);
    expect(lines[1]).toMatch(/^-rwxr-xr-x .* 18 .* bin\/hello$/);
    expect(lines[2]).toMatch(/^lrwxrwxrwx .* bin\/sh -> hello$/);
    expect(lines[4]).toMatch(/^crw------- .* 5, +1 .* dev\/console$/);
    expect(lines[5]).toMatch(/^-rw-r--r-- .* 3 .* odd$/);
  });

  it("round-trips file contents and symlinks through extraction", async () => {
    dir = await mkdtemp(join(tmpdir(), "wrenn-cpio-"));
    await run("cpio", ["-id", "--quiet", "--no-absolute-filenames", "--nonmatching", "dev/*"], {
      cwd: dir,
      input: archive(),
    });
    expect(await readFile(join(dir, "bin/hello"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(await readlink(join(dir, "bin/sh"))).toBe("hello");
    expect(await readFile(join(dir, "odd"), "utf8")).toBe("abc");
  });

  it("pads every member to four bytes", () => {
    expect(archive().length % 4).toBe(0);
  });
});
