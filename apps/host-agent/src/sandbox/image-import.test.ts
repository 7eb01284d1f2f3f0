import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, isWrennError } from "@wrenn/common";
import { imageLayout, resolveGuestImage } from "@wrenn/images";
import { startTestRegistry, type TestRegistry, tarOf } from "@wrenn/images/oci/test-registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TemplateStore } from "../snapshot/templates.ts";
import { DataLayout } from "../storage/layout.ts";
import type { Vmm } from "../vmm/types.ts";
import { importImage } from "./image-import.ts";

// The agent's side of a build FROM an image, without booting: pull from a real loopback
// docker-registry, apply the layers, convert, register an image-only template — and leave
// nothing behind when the image cannot be a guest. Fails (never skips) without docker-registry
// or a built guest image.
let work: string;
let registry: TestRegistry;
let templates: TemplateStore;
const log = createLogger("image-import-test", "silent");

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wrenn-image-import-"));
  mkdirSync(join(work, "registry"));
  registry = await startTestRegistry(join(work, "registry"));
  // The store's VMM is only used to capture snapshots, which an import never does.
  templates = new TemplateStore(new DataLayout(join(work, "agent")), {} as Vmm, log);
  const cache = imageLayout().cacheDir;
  const base = readdirSync(cache).find((n) => n.startsWith("rootfs-base-"));
  if (!base) throw new Error(`no debootstrap tree in ${cache}: run wrenn image build`);
  const top = join(work, "top");
  mkdirSync(join(top, "usr/bin"), { recursive: true });
  writeFileSync(join(top, "usr/bin/.wh.tini"), "");
  writeFileSync(join(top, "marker"), "from the image\n");
  await registry.pushImage("t/debian", "v1", {
    config: {},
    layers: [{ blob: tarOf(join(cache, base)) }, { blob: tarOf(top) }],
  });
  const musl = join(work, "musl");
  mkdirSync(join(musl, "lib"), { recursive: true });
  writeFileSync(join(musl, "lib/ld-musl-x86_64.so.1"), "");
  await registry.pushImage("t/alpine", "v1", { config: {}, layers: [{ blob: tarOf(musl) }] });
}, 120_000);

afterAll(() => {
  registry?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const deps = () => ({ templates, guestImage: () => resolveGuestImage(), logger: log });
const request = (image: string, templateId: string) => ({
  teamId: "team-a",
  templateId,
  image,
  username: "",
  password: "",
  diskSizeMb: 4096,
});

describe("importImage", () => {
  it("pulls, converts and registers an image-only template", async () => {
    const res = await importImage(deps(), request(`${registry.host}/t/debian:v1`, "tpl-debian"));
    expect(res.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(res.sizeBytes).toBeGreaterThan(100 * 2 ** 20);
    const source = await templates.imageSource("team-a", "tpl-debian");
    expect(source?.hash).toMatch(new RegExp(`^oci-${res.digest.slice(7, 23)}-\\d+$`));
    expect(readdirSync(join(work, "agent/templates/teams/team-a/tpl-debian"))).toEqual(["image"]);
    await expect(importImage(deps(), request(`${registry.host}/t/debian:v1`, "tpl-debian"))).rejects.toThrow(
      /already exists/,
    );
  });

  it("refuses a musl image and a missing one with the reason, leaving nothing", async () => {
    for (const [image, reason] of [
      [`${registry.host}/t/alpine:v1`, /no glibc/],
      [`${registry.host}/t/nope:v1`, /pulling .* failed: registry .* answered 404/],
    ] as const) {
      let thrown: unknown;
      try {
        await importImage(deps(), request(image, "tpl-bad"));
      } catch (err) {
        thrown = err;
      }
      expect(isWrennError(thrown) && thrown.code, String(thrown)).toBe("failed_precondition");
      expect((thrown as Error).message).toMatch(reason);
      expect(await templates.exists("team-a", "tpl-bad")).toBe(false);
    }
  });
});
