import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readSourceHash, sourceHash, writeSourceHash } from "./source-hash.mjs";

describe("sourceHash", () => {
  let root: string;
  const app = () => join(root, "apps", "web");
  const put = (rel: string, text: string) => {
    const path = join(root, rel);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text);
  };

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const setUp = () => {
    root = mkdtempSync(join(tmpdir(), "wrenn-hash-"));
    put("package-lock.json", "{}");
    put("apps/web/index.html", "<div id=root></div>");
    put("apps/web/src/main.tsx", "render()");
  };

  it("changes with a source file, its name, or the lockfile", () => {
    setUp();
    const first = sourceHash(app());
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(sourceHash(app())).toBe(first);
    put("apps/web/src/main.tsx", "render(1)");
    const edited = sourceHash(app());
    expect(edited).not.toBe(first);
    put("apps/web/src/extra.ts", "");
    const added = sourceHash(app());
    expect(added).not.toBe(edited);
    put("package-lock.json", '{"v":2}');
    expect(sourceHash(app())).not.toBe(added);
  });

  it("ignores build output, dependencies, dot folders, tests and docs", () => {
    setUp();
    const before = sourceHash(app());
    put("apps/web/dist/assets/x.js", "built");
    put("apps/web/node_modules/m/index.js", "dep");
    put("apps/web/.vite/cache", "c");
    put("apps/web/src/main.test.tsx", "test");
    put("apps/web/README.md", "docs");
    // Left beside the sources by tools while a build runs.
    put("apps/web/vite.config.ts.timestamp-1733-abc.mjs", "bundled config");
    put("apps/web/dist.lock", "4242");
    put("apps/web/tsconfig.tsbuildinfo", "{}");
    expect(sourceHash(app())).toBe(before);
    put("apps/web/vite.config.ts", "export default {}");
    put("apps/web/tsconfig.app.json", "{}");
    put("apps/web/public/favicon.svg", "<svg/>");
    const configured = sourceHash(app());
    expect(configured).not.toBe(before);
    put("apps/web/public/favicon.svg", "<svg></svg>");
    expect(sourceHash(app())).not.toBe(configured);
  });

  it("writes and reads back the record in dist/.source-hash", () => {
    setUp();
    mkdirSync(join(app(), "dist"));
    expect(readSourceHash(join(app(), "dist"))).toBeUndefined();
    const written = writeSourceHash(app());
    expect(readSourceHash(join(app(), "dist"))).toBe(written);
    // Writing the record into dist/ must not change the hash it records.
    expect(sourceHash(app())).toBe(written);
  });
});
