import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

// Runs the checker on small made-up workspaces: each kind of cycle fails it, a layered tree passes.
const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), "check-import-cycles.mjs");
const dirs: string[] = [];

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "wrenn-cycles-"));
  dirs.push(root);
  const all: Record<string, string> = {
    "package.json": JSON.stringify({ workspaces: ["packages/*"] }),
    "packages/a/package.json": JSON.stringify({ name: "@wrenn/a", exports: { ".": "./src/index.ts" } }),
    "packages/b/package.json": JSON.stringify({ name: "@wrenn/b", exports: { ".": "./src/index.ts" } }),
    "packages/b/src/index.ts": "export const b = 1;\n",
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

async function check(root: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [script, "--root", root]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe("check-import-cycles", () => {
  it("passes a layered tree (root files and one-way folder and package imports)", async () => {
    const root = await tree({
      "packages/a/src/index.ts":
        'import { b } from "@wrenn/b";\nimport { s } from "./services/s.ts";\nexport { b, s };\n',
      "packages/a/src/config.ts": "export const c = 1;\n",
      "packages/a/src/services/s.ts":
        'import { h } from "../http/h.ts";\nimport { c } from "../config.ts";\nexport const s = h + c;\n',
      "packages/a/src/http/h.ts": "export const h = 1;\n",
      "packages/a/src/http/h.test.ts": 'import { s } from "../services/s.ts";\nvoid s;\n',
    });
    const { code, out } = await check(root);
    expect(out).toContain("no import cycles");
    expect(code).toBe(0);
  });

  it("fails on a file that imports itself through another, type-only imports included", async () => {
    const root = await tree({
      "packages/a/src/index.ts": 'import type { Y } from "./y.ts";\nexport type X = Y;\n',
      "packages/a/src/y.ts": 'import type { X } from "./index.ts";\nexport type Y = X | 1;\n',
    });
    const { code, out } = await check(root);
    expect(code).toBe(1);
    expect(out).toMatch(
      /file cycle: packages\/a\/src\/index\.ts → packages\/a\/src\/y\.ts → packages\/a\/src\/index\.ts/,
    );
  });

  it("fails on two folders whose files import each other, naming the imports", async () => {
    const root = await tree({
      "packages/a/src/index.ts": 'export { s } from "./services/s.ts";\n',
      "packages/a/src/services/s.ts": 'import { h } from "../http/h.ts";\nexport const s = h;\n',
      "packages/a/src/services/t.ts": "export const t = 1;\n",
      "packages/a/src/http/h.ts": 'import { t } from "../services/t.ts";\nexport const h = t;\n',
    });
    const { code, out } = await check(root);
    expect(code).toBe(1);
    expect(out).toContain("folder cycle:");
    expect(out).toContain("packages/a/src/http/h.ts → packages/a/src/services/t.ts");
  });

  it("fails on two workspaces that import each other", async () => {
    const root = await tree({
      "packages/a/src/index.ts": 'import { b } from "@wrenn/b";\nexport const a = b;\n',
      "packages/b/src/index.ts": 'export const b = 1;\nexport const later = () => import("@wrenn/a");\n',
    });
    const { code, out } = await check(root);
    expect(code).toBe(1);
    expect(out).toMatch(/package cycle: @wrenn\/(a|b) → @wrenn\/(a|b) → @wrenn\/(a|b)/);
  });
});
