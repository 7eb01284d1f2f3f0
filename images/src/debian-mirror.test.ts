import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FALLBACK_DEBIAN_MIRROR, findDebianMirror } from "./debian-mirror.ts";

describe("findDebianMirror", () => {
  let apt: string;
  const saved = process.env.WRENN_DEBIAN_MIRROR;
  beforeEach(async () => {
    apt = await mkdtemp(join(tmpdir(), "wrenn-apt-"));
    await mkdir(join(apt, "sources.list.d"));
    delete process.env.WRENN_DEBIAN_MIRROR;
  });
  afterEach(async () => {
    await rm(apt, { recursive: true, force: true });
    if (saved === undefined) delete process.env.WRENN_DEBIAN_MIRROR;
    else process.env.WRENN_DEBIAN_MIRROR = saved;
  });

  it("reads deb822 sources, skipping security, disabled and other suites", async () => {
    await writeFile(
      join(apt, "sources.list.d", "debian.sources"),
      [
        "Types: deb",
        "URIs: http://security.example/debian-security",
        "Suites: bookworm-security",
        "",
        "Types: deb",
        "URIs: http://off.example/debian",
        "Suites: bookworm",
        "Enabled: no",
        "",
        "Types: deb deb-src",
        "URIs: http://mirror.example/debian/",
        "Suites: bookworm bookworm-updates",
        "Components: main",
      ].join("\n"),
    );
    expect(await findDebianMirror("bookworm", apt)).toBe("http://mirror.example/debian");
  });

  it("reads one-line sources.list entries with options", async () => {
    await writeFile(
      join(apt, "sources.list"),
      "# comment\ndeb [arch=amd64] http://one.example/debian bookworm main\n",
    );
    expect(await findDebianMirror("bookworm", apt)).toBe("http://one.example/debian");
  });

  it("falls back to deb.debian.org and honours WRENN_DEBIAN_MIRROR", async () => {
    expect(await findDebianMirror("bookworm", apt)).toBe(FALLBACK_DEBIAN_MIRROR);
    process.env.WRENN_DEBIAN_MIRROR = "http://override.example/debian";
    expect(await findDebianMirror("bookworm", apt)).toBe("http://override.example/debian");
  });
});
