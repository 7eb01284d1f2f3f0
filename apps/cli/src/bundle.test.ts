import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBuilder, ensureBuilt, RUNTIME_URL_MODULES } from "../../../scripts/build.mjs";

// What users run is built JavaScript (scripts/build.mjs); tests elsewhere run the TypeScript
// sources. Here: the staleness rules on a scratch tree, and the real bundles of this checkout.
const repo = fileURLToPath(new URL("../../..", import.meta.url));
let tree = "";

beforeAll(async () => {
  tree = await mkdtemp(join(tmpdir(), "wrenn-build-"));
  await mkdir(join(tree, "src"));
  await mkdir(join(tree, "scripts"));
  await writeFile(join(tree, "scripts/build.mjs"), "// the recipe is an input too\n");
  await writeFile(join(tree, "package-lock.json"), '{"lockfileVersion":3}\n');
  await writeFile(
    join(tree, "src/main.ts"),
    'import { word } from "./dep.ts";\nconsole.log(word satisfies string);\n',
  );
  await writeFile(join(tree, "src/dep.ts"), 'export const word = "one";\n');
});
afterAll(async () => {
  if (tree) await rm(tree, { recursive: true, force: true });
});

const node = (args: string[], cwd = repo) => spawnSync(process.execPath, args, { cwd, encoding: "utf8" });

describe("scripts/build.mjs", () => {
  it("rebuilds exactly when an input's content, the lockfile or the recipe changed — never runs stale", async () => {
    const b = createBuilder(tree, {
      app: { kind: "bundle", outdir: "dist", entries: { main: "src/main.ts" } },
    });
    const run = () => node([join(tree, "dist/main.mjs")]).stdout.trim();
    expect(await b.isFresh("app")).toBe(false);
    await b.ensureBuilt(["app"], { quiet: true });
    expect(await b.isFresh("app")).toBe(true);
    expect(run()).toBe("one");

    // Touched, same content (a checkout, an editor save): fresh, no rebuild.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(tree, "src/dep.ts"), later, later);
    expect(await b.isFresh("app")).toBe(true);

    for (const [file, text] of [
      ["src/dep.ts", 'export const word = "two";\n'],
      ["package-lock.json", '{"lockfileVersion":3,"packages":{}}\n'],
      ["scripts/build.mjs", "// a new recipe\n"],
    ] as const) {
      await writeFile(join(tree, file), text);
      expect(await b.isFresh("app"), file).toBe(false);
      await b.ensureBuilt(["app"], { quiet: true });
      expect(await b.isFresh("app"), file).toBe(true);
    }
    expect(run()).toBe("two");

    // An input gone (its importer must have changed too): stale, and the build says why.
    await rm(join(tree, "src/dep.ts"));
    expect(await b.isFresh("app")).toBe(false);
    await expect(b.ensureBuilt(["app"], { quiet: true })).rejects.toThrow(/dep\.ts/);
  });

  it("keeps import.meta.url the source file's in a bundle (files beside the source are found), even moved", async () => {
    await writeFile(join(tree, "src/data.txt"), "beside the source\n");
    await writeFile(
      join(tree, "src/reader.ts"),
      'import { readFileSync } from "node:fs";\nconsole.log(readFileSync(new URL("./data.txt", import.meta.url), "utf8").trim());\n',
    );
    const b = createBuilder(tree, {
      reader: { kind: "bundle", outdir: "out/reader", entries: { r: "src/reader.ts" } },
    });
    await b.ensureBuilt(["reader"], { quiet: true });
    expect(node([join(tree, "out/reader/r.mjs")]).stdout.trim()).toBe("beside the source");
    // The whole tree moved (a container image, another checkout): still found, relative to the bundle.
    const moved = `${tree}-moved`;
    await rename(tree, moved);
    try {
      expect(node([join(moved, "out/reader/r.mjs")]).stdout.trim()).toBe("beside the source");
    } finally {
      await rename(moved, tree);
    }
  });

  it("skips a target that does not exist in this checkout (the dashboard before its app)", async () => {
    const b = createBuilder(tree, {
      dash: {
        kind: "command",
        outdir: "d",
        command: ["false"],
        fresh: async () => false,
        enabled: () => false,
      },
    });
    expect(await b.isFresh("dash")).toBe(true);
    await b.ensureBuilt(["dash"]);
  });
});

describe("the bundles of this checkout", () => {
  beforeAll(async () => {
    await ensureBuilt(["cli", "host-agent", "control-plane"], { quiet: true });
  }, 120_000);

  it("runs the CLI without TypeScript: help, a command's help, and up's chunk with the control plane", () => {
    const top = node(["apps/cli/dist/wrenn.mjs", "--help"]);
    expect(top.status, top.stderr).toBe(0);
    expect(top.stdout).toMatch(/^ {2}sandbox +Create, inspect/m);
    const host = node(["apps/cli/dist/wrenn.mjs", "host", "register", "--help"]);
    expect(host.stdout).toContain("--token-file FILE");
    const up = node(["apps/cli/dist/wrenn.mjs", "up", "--help"]);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^Usage: wrenn up/);
  });

  it("names only existing modules as keeping the bundle's own import.meta.url", () => {
    for (const file of RUNTIME_URL_MODULES) expect(existsSync(join(repo, file)), file).toBe(true);
  });

  it("runs the control plane bundle, whose inlined modules' own main guards stay asleep", () => {
    // Without JWT_SECRET it stops at its configuration, having loaded everything it bundles
    // (@wrenn/common's source-hash.mjs has a command-line main of its own).
    const cp = spawnSync(process.execPath, ["apps/control-plane/dist/main.mjs"], {
      cwd: repo,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(cp.stderr).toMatch(/^control-plane: configuration error: JWT_SECRET is required/);
    expect(cp.status).toBe(1);
  });

  it("runs the host agent bundle, which refuses a registration token on its command line", () => {
    const agent = node(["apps/host-agent/dist/main.mjs", "--register", "wrh_x"]);
    expect(agent.status).toBe(2);
    expect(agent.stderr).toMatch(/host-agent: --register <token> is gone .*WRENN_REGISTRATION_TOKEN/);
  });
});
