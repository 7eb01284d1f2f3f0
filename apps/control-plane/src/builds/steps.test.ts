import { describe, expect, it } from "vitest";
import { checkCopySources, copyHash, filesFor, readTar } from "./context.ts";
import { buildPlan } from "./guest-steps.ts";
import { layerPoints } from "./runner.ts";
import { type BuildStep, prefixKeys } from "./steps.ts";

const base = { templateId: "t1", vcpus: 1, memoryMb: 512, diskSizeMb: 5120 };

/** A minimal ustar archive of regular files (what `tar -c` writes, without directories). */
function tar(files: { path: string; content: string; mode?: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    h.write(f.path, 0, "utf8");
    h.write(`${(f.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100);
    h.write(`${Buffer.byteLength(f.content).toString(8).padStart(11, "0")}\0`, 124);
    h.write("0", 156);
    h.write("ustar\0", 257);
    h.fill(" ", 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    const data = Buffer.alloc(Math.ceil(Buffer.byteLength(f.content) / 512) * 512);
    data.write(f.content);
    blocks.push(h, data);
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

describe("cache keys", () => {
  const steps: BuildStep[] = [
    { kind: "run", command: "echo 1" },
    { kind: "copy", src: "app", dest: "/app" },
    { kind: "run", command: "echo 3" },
  ];

  it("are equal for an equal prefix and differ after the first change", () => {
    const hash = () => "same";
    const a = prefixKeys(base, steps, hash);
    const b = prefixKeys(base, [...steps.slice(0, 2), { kind: "run", command: "echo changed" }], hash);
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toBe(a[2]);
    // Line numbers are presentation only.
    expect(
      prefixKeys(
        base,
        steps.map((s, i) => ({ ...s, line: i + 10 })),
        hash,
      ),
    ).toEqual(a);
  });

  it("change with COPY contents, the base template and the sandbox shape", () => {
    const a = prefixKeys(base, steps, () => "v1");
    expect(prefixKeys(base, steps, () => "v2").slice(0, 1)).toEqual(a.slice(0, 1));
    expect(prefixKeys(base, steps, () => "v2")[1]).not.toBe(a[1]);
    expect(prefixKeys({ ...base, templateId: "t2" }, steps, () => "v1")[0]).not.toBe(a[0]);
    expect(prefixKeys({ ...base, memoryMb: 1024 }, steps, () => "v1")[0]).not.toBe(a[0]);
  });
});

describe("build context", () => {
  const files = readTar(
    tar([
      { path: "app/main.py", content: "print('hi')\n" },
      { path: "app/run.sh", content: "#!/bin/sh\n", mode: 0o755 },
      { path: "README", content: "read me" },
    ]),
  );

  it("reads a tar's regular files with modes", () => {
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ["app/main.py", 0o644],
      ["app/run.sh", 0o755],
      ["README", 0o644],
    ]);
    expect(files[0]?.content.toString()).toBe("print('hi')\n");
  });

  it("matches COPY sources as a file, a directory or everything", () => {
    expect(filesFor("README", files).map((m) => m.relative)).toEqual(["README"]);
    expect(filesFor("app/", files).map((m) => m.relative)).toEqual(["main.py", "run.sh"]);
    expect(filesFor(".", files)).toHaveLength(3);
    expect(() => checkCopySources([{ kind: "copy", src: "missing", dest: "/x", line: 4 }], files)).toThrow(
      /line 4: COPY source missing is not in the uploaded build context/,
    );
  });

  it("hashes COPY content so an edited file changes the key", () => {
    const step = { kind: "copy" as const, src: "app", dest: "/app" };
    const edited = files.map((f) => (f.path === "app/main.py" ? { ...f, content: Buffer.from("x") } : f));
    expect(copyHash(step, files)).toBe(copyHash(step, [...files]));
    expect(copyHash(step, edited)).not.toBe(copyHash(step, files));
    expect(copyHash({ kind: "copy", src: "README", dest: "/r" }, edited)).toBe(
      copyHash({ kind: "copy", src: "README", dest: "/r" }, files),
    );
  });

  it("refuses paths that escape the context", () => {
    expect(() => readTar(tar([{ path: "../evil", content: "x" }]))).toThrow(/without '\.\.'/);
  });

  it("answers a truncated archive as the caller's mistake, not a crash", () => {
    const whole = tar([{ path: "big", content: "y".repeat(2000) }]);
    expect(() => readTar(whole.subarray(0, 1024))).toThrow(
      expect.objectContaining({ code: "invalid_argument", message: "build context: truncated tar archive" }),
    );
  });
});

describe("layer points", () => {
  const spec = {
    steps: [
      { kind: "run", command: "a" },
      { kind: "env", envs: { A: "1" } },
      { kind: "copy", src: "x", dest: "/x" },
      { kind: "user", user: "app" },
      { kind: "run", command: "b" },
    ] satisfies BuildStep[],
  };

  it("are the last two disk-changing steps of the recipe, pre/post steps aside", () => {
    expect([...layerPoints(buildPlan(spec, true), true)]).toEqual([2, 4]);
    // With pre (index 0) and post (index 6) steps the recipe's steps shift by one.
    expect([...layerPoints(buildPlan(spec, false), false)]).toEqual([3, 5]);
    // A recipe that changes no disk: the pre step (apt-get update) is the point.
    const envOnly = { steps: [{ kind: "env", envs: { A: "1" } }] satisfies BuildStep[] };
    expect([...layerPoints(buildPlan(envOnly, false), false)]).toEqual([0]);
    expect([...layerPoints(buildPlan(envOnly, true), true)]).toEqual([]);
  });
});
