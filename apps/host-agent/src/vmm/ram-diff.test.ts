import { type ChildProcess, execFile, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changedPages, findFileMapping } from "./page-map.ts";
import { QmpClient } from "./qmp.ts";
import { UnsupportedStreamError, writeRamDiffState } from "./ram-diff.ts";

// Real QEMU, no guest: a stopped microvm whose RAM privately maps a file is migrated to a file
// (the stream a fork's capture writes), reduced to the pages that differ from a base file, and
// loaded by a second QEMU mapping the base file; its guest memory (QMP `pmemsave`) must equal
// the first's, and its page map must show exactly the reduced pages copied.
const PAGE = 4096;
const PAGES = 4096; // 16 MiB of guest RAM
const RAM = PAGES * PAGE;

interface Qemu {
  child: ChildProcess;
  qmp: QmpClient;
  stop(): Promise<void>;
}

async function startQemu(dir: string, name: string, memPath: string, incoming: boolean): Promise<Qemu> {
  const socket = join(dir, `${name}.qmp`);
  const child = spawn(
    "qemu-system-x86_64",
    [
      ...["-machine", "microvm,memory-backend=mem", "-m", "16M"],
      ...["-object", `memory-backend-file,id=mem,size=16M,mem-path=${memPath},share=off`],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-S"],
      ...["-qmp", `unix:${socket},server=on,wait=off`],
      ...(incoming ? ["-incoming", "defer"] : []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`QEMU exited (${code}): ${stderr}`))),
  );
  exited.catch(() => {});
  const qmp = await Promise.race([QmpClient.connect(socket), exited]);
  return {
    child,
    qmp,
    async stop() {
      qmp.close();
      child.kill("SIGKILL");
      await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(null)));
    },
  };
}

async function waitForMigration(qmp: QmpClient): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const info = await qmp.execute("query-migrate");
    if (info.status === "completed") return;
    if (info.status === "failed") throw new Error(`migration failed: ${info["error-desc"]}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("migration did not complete in 10 s");
}

const page = (fill: number) => Buffer.alloc(PAGE, fill);
const execFileAsync = promisify(execFile);

/**
 * A signal that aborts at its third check: the reader checks before each 4 MiB read, so the
 * rewrite stops mid-stream with two chunks' output handed to writes.
 */
function abortAtThirdRead(reason: Error): AbortSignal {
  let checks = 0;
  return {
    throwIfAborted() {
      checks++;
      if (checks >= 3) throw reason;
    },
  } as unknown as AbortSignal;
}

describe("writeRamDiffState on QEMU's own stream", () => {
  let dir: string;
  let fullState: string;
  let base: string;
  let sourceMemory: Buffer;
  const changed = new Uint8Array(PAGES / 8);
  let changedCount = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ram-diff-"));
    // The base: mostly non-zero pages, every 5th zero.
    base = join(dir, "base.ram");
    const baseRam = Buffer.concat(
      Array.from({ length: PAGES }, (_, i) => page(i % 5 === 0 ? 0 : (i % 250) + 1)),
    );
    await writeFile(base, baseRam);
    // The source's file: the base with pages changed three ways (new bytes, zeroed, a zero page filled).
    const sourceRam = Buffer.from(baseRam);
    for (let i = 0; i < PAGES; i++) {
      let fill: number | undefined;
      if (i % 37 === 1) fill = 0xee; // non-zero → other non-zero
      if (i % 53 === 2) fill = 0; // non-zero → zero
      if (i % 5 === 0 && i % 41 === 0) fill = 0x11; // zero → non-zero
      if (fill === undefined) continue;
      sourceRam.fill(fill, i * PAGE, (i + 1) * PAGE);
      if (!baseRam.subarray(i * PAGE, (i + 1) * PAGE).equals(sourceRam.subarray(i * PAGE, (i + 1) * PAGE))) {
        changed[i >> 3] = (changed[i >> 3] as number) | (1 << (i & 7));
        changedCount++;
      }
    }
    const sourceFile = join(dir, "source.ram");
    await writeFile(sourceFile, sourceRam);
    const source = await startQemu(dir, "source", sourceFile, false);
    try {
      await source.qmp.execute("pmemsave", { val: 0, size: RAM, filename: join(dir, "source.mem") });
      fullState = join(dir, "full.state");
      await source.qmp.execute("migrate", { uri: `exec:cat > ${fullState}` });
      await waitForMigration(source.qmp);
    } finally {
      await source.stop();
    }
    sourceMemory = await readFile(join(dir, "source.mem"));
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keeps the stream byte for byte when every page is marked changed", async () => {
    const out = join(dir, "all.state");
    const result = await writeRamDiffState({
      fullState,
      blockId: "mem",
      changed: new Uint8Array(PAGES / 8).fill(0xff),
      out,
    });
    expect(result).toMatchObject({ keptPages: PAGES, droppedPages: 0 });
    expect((await readFile(out)).equals(await readFile(fullState))).toBe(true);
  });

  it("restores over the base file to the source's memory, copying only the changed pages", async () => {
    expect(changedCount).toBeGreaterThan(100);
    const out = join(dir, "changed.state");
    const result = await writeRamDiffState({ fullState, blockId: "mem", changed, out });
    expect(result).toEqual({
      keptPages: changedCount,
      droppedPages: PAGES - changedCount,
      bytes: (await stat(out)).size,
    });
    expect(result.bytes).toBeLessThan((await stat(fullState)).size / 2);

    // The base is mapped private: the restore must not write into it.
    const baseCopy = join(dir, "base-before.ram");
    await copyFile(base, baseCopy);
    const target = await startQemu(dir, "target", base, true);
    try {
      await target.qmp.execute("migrate-incoming", { uri: `exec:cat ${out}` });
      await waitForMigration(target.qmp);
      await target.qmp.execute("pmemsave", { val: 0, size: RAM, filename: join(dir, "target.mem") });
      expect((await readFile(join(dir, "target.mem"))).equals(sourceMemory)).toBe(true);

      const pid = target.child.pid as number;
      const mapping = await findFileMapping(pid, base, RAM);
      expect(mapping?.bytes).toBe(RAM);
      const copied = await changedPages(pid, mapping as NonNullable<typeof mapping>);
      expect(Array.from(copied)).toEqual(Array.from(changed));
    } finally {
      await target.stop();
    }
    expect((await readFile(base)).equals(await readFile(baseCopy))).toBe(true);
  }, 60_000);

  it("finds no mapping of a file the process does not map at that size", async () => {
    const target = await startQemu(dir, "idle", base, false);
    try {
      const pid = target.child.pid as number;
      expect(await findFileMapping(pid, join(dir, "other.ram"), RAM)).toBeUndefined();
      expect(await findFileMapping(pid, base, RAM * 2)).toBeUndefined();
      const mapping = await findFileMapping(pid, base, RAM);
      // Nothing wrote the guest's RAM: no page is the process's own.
      expect((await changedPages(pid, mapping as NonNullable<typeof mapping>)).every((b) => b === 0)).toBe(
        true,
      );
    } finally {
      await target.stop();
    }
  }, 60_000);

  it("stops when aborted, leaving no output", async () => {
    const reason = new Error("resume wants the state");
    const out = join(dir, "aborted.state");
    const allPages = new Uint8Array(PAGES / 8).fill(0xff);
    await expect(
      writeRamDiffState({
        fullState,
        blockId: "mem",
        changed: allPages,
        out,
        signal: abortAtThirdRead(reason),
      }),
    ).rejects.toBe(reason);
    await expect(stat(out)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("fails on a full disk with the write's error, and when aborted there leaves no write failing later", async () => {
    // A 1 MiB tmpfs: the first 4 MiB write is short, the next fails with ENOSPC while the rewrite
    // goes on reading. The failure must reach the caller; and when the rewrite is aborted before
    // it awaits that write, it must still not surface as an unhandled rejection (vitest fails the
    // run on those; CI once saw one, a write started after the abort closed the file).
    const small = join(dir, "small");
    await mkdir(small);
    await execFileAsync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
    try {
      const out = join(small, "full.state");
      const allPages = new Uint8Array(PAGES / 8).fill(0xff);
      await expect(
        writeRamDiffState({ fullState, blockId: "mem", changed: allPages, out }),
      ).rejects.toMatchObject({
        code: "ENOSPC",
      });
      await expect(stat(out)).rejects.toMatchObject({ code: "ENOENT" });
      const reason = new Error("resume wants the state");
      await expect(
        writeRamDiffState({
          fullState,
          blockId: "mem",
          changed: allPages,
          out,
          signal: abortAtThirdRead(reason),
        }),
      ).rejects.toBe(reason);
      await expect(stat(out)).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await execFileAsync("umount", [small]);
    }
  });

  it("refuses a stream it cannot parse and leaves no output behind", async () => {
    // A RAM section whose first page record carries XBZRLE (0x40): compression it does not undo.
    const bytes = Buffer.concat([
      Buffer.from("QEVM"),
      Buffer.from([0, 0, 0, 3]),
      Buffer.from([0x01, 0, 0, 0, 2, 3]),
      Buffer.from("ram"),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 4]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0x10, 0x04, 3]),
      Buffer.from("mem"),
      Buffer.from([0, 0, 0, 0, 0, 0, 0x10, 0x00]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x10]),
      Buffer.from([0x02, 0, 0, 0, 2]),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x40]),
    ]);
    const bad = join(dir, "bad.state");
    await writeFile(bad, bytes);
    const out = join(dir, "bad.out");
    await expect(writeRamDiffState({ fullState: bad, blockId: "mem", changed, out })).rejects.toBeInstanceOf(
      UnsupportedStreamError,
    );
    await expect(stat(out)).rejects.toMatchObject({ code: "ENOENT" });
    await writeFile(bad, Buffer.from("not a stream"));
    await expect(writeRamDiffState({ fullState: bad, blockId: "mem", changed, out })).rejects.toThrow(
      /not a QEMU v3 stream/,
    );
  });
});
