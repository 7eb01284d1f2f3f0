import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@wrenn/common";
import { afterEach, describe, expect, it } from "vitest";
import { DataLayout } from "../storage/layout.ts";
import { collectForkCaptures, forkCaptureDir, pendingCaptures } from "./fork-captures.ts";
import { type SandboxManagerOptions, SandboxTable } from "./table.ts";
import type { SandboxRecord } from "./types.ts";

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** A table over a temporary data directory; collection reads only the layout and the logger. */
async function table(): Promise<SandboxTable> {
  root = await mkdtemp(join(tmpdir(), "wrenn-fork-captures-"));
  return new SandboxTable({
    layout: new DataLayout(root),
    logger: createLogger("test", "silent"),
  } as unknown as SandboxManagerOptions);
}

function entry(t: SandboxTable, id: string, forkCaptures: string[]): void {
  t.entries.set(id, { record: { id, forkCaptures } as unknown as SandboxRecord });
}

describe("fork captures", () => {
  it("deletes the captures no sandbox names and none is making, keeps the others", async () => {
    const t = await table();
    for (const id of ["c1", "c2", "c3", "c4"])
      await mkdir(forkCaptureDir(t.options.layout, id), { recursive: true });
    // A fork of a fork names both captures; c3 is being made; c4 is nobody's.
    entry(t, "fork-a", ["c1", "c2"]);
    entry(t, "plain", []);
    pendingCaptures(t).add("c3");
    expect(await collectForkCaptures(t)).toEqual(["c4"]);
    expect((await readdir(join(t.options.layout.root, "forks"))).sort()).toEqual(["c1", "c2", "c3"]);
    t.entries.delete("fork-a");
    pendingCaptures(t).delete("c3");
    expect((await collectForkCaptures(t)).sort()).toEqual(["c1", "c2", "c3"]);
  });

  it("copes with no forks directory and refuses capture ids that are not safe names", async () => {
    const t = await table();
    expect(await collectForkCaptures(t)).toEqual([]);
    expect(() => forkCaptureDir(t.options.layout, "../x")).toThrow(/capture_id/);
  });
});
