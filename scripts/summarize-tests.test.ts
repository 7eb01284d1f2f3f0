import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The line CI reads, from made-up vitest JSON reports and exit statuses.
const script = join(dirname(fileURLToPath(import.meta.url)), "summarize-tests.mjs");
let dir: string;

function summarize(...args: string[]): Promise<{ line: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], (err, stdout) => {
      const lines = stdout.trim().split("\n");
      resolve({ line: lines.at(-1) ?? "", code: err ? Number(err.code) : 0 });
    });
  });
}

async function report(name: string, statuses: string[], fileStatus = "passed"): Promise<string> {
  const path = join(dir, name);
  const assertionResults = statuses.map((status) => ({ status }));
  await writeFile(path, JSON.stringify({ testResults: [{ status: fileStatus, assertionResults }] }));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wrenn-summary-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("summarize-tests", () => {
  it("adds passes and failures over reports and exits non-zero on any failure", async () => {
    const a = await report("a.json", ["passed", "passed", "skipped"]);
    const b = await report("b.json", ["passed", "failed"], "failed");
    expect(await summarize(`${a}:0`)).toEqual({ line: "2 passed, 0 failed, 1 skipped", code: 0 });
    expect(await summarize(`${a}:0`, `${b}:1`)).toEqual({ line: "3 passed, 1 failed, 1 skipped", code: 1 });
  });

  it("counts a run that exited non-zero with no failed test (unhandled errors) as a failure", async () => {
    const a = await report("clean.json", ["passed"]);
    expect(await summarize(`${a}:1`)).toEqual({ line: "1 passed, 1 failed", code: 1 });
  });

  it("counts a missing report and a file that failed to load as failures", async () => {
    const loadFailed = await report("load.json", [], "failed");
    expect(await summarize(`${join(dir, "missing.json")}:0`, `${loadFailed}:1`)).toEqual({
      line: "0 passed, 2 failed",
      code: 1,
    });
  });
});
