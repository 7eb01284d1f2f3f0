import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopbackRegistry, parseImageRef, RegistryClient } from "./registry.ts";
import { sha256Digest, startTestRegistry, type TestRegistry, tarOf } from "./test-registry.ts";
import { applyLayer } from "./unpack.ts";

// A real OCI registry (Debian's `docker-registry`, the CNCF distribution server) on
// loopback, holding an image this test builds itself: two layers, the second with a
// whiteout and an opaque directory, behind a multi-platform index. Fails (never skips)
// when docker-registry is missing (scripts/install-system-deps installs it).
let work: string;
let registry: TestRegistry;
let host: string;

/** Recomputes a ustar header's checksum after the test edited the header. */
function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wrenn-oci-"));
  registry = await startTestRegistry(work);
  host = registry.host;

  // Layer 1 (gzip): a small rootfs.
  const l1 = join(work, "l1");
  for (const d of ["etc", "bin", "dir", "opaque"]) mkdirSync(join(l1, d), { recursive: true });
  writeFileSync(join(l1, "etc", "os-release"), "ID=wrenn-test\n");
  writeFileSync(join(l1, "bin", "hello"), "#!/bin/sh\necho hello\n");
  chmodSync(join(l1, "bin", "hello"), 0o755);
  writeFileSync(join(l1, "dir", "keep.txt"), "kept\n");
  writeFileSync(join(l1, "dir", "gone.txt"), "deleted by layer 2\n");
  writeFileSync(join(l1, "opaque", "old.txt"), "hidden by layer 2\n");
  symlinkSync("bin/hello", join(l1, "hello-link"));
  // Layer 2 (plain tar): a whiteout, an opaque directory, a changed file.
  const l2 = join(work, "l2");
  for (const d of ["etc", "dir", "opaque"]) mkdirSync(join(l2, d), { recursive: true });
  writeFileSync(join(l2, "etc", "os-release"), "ID=wrenn-test\nVERSION=2\n");
  writeFileSync(join(l2, "dir", ".wh.gone.txt"), "");
  writeFileSync(join(l2, "opaque", ".wh..wh..opq"), "");
  writeFileSync(join(l2, "opaque", "new.txt"), "from layer 2\n");

  const repo = "wrenn/test-image";
  const layer2 = tarOf(l2);
  const digest = await registry.pushImage(repo, "amd64", {
    config: {
      config: { Env: ["PATH=/bin", "GREETING=hi"], Cmd: ["/bin/hello"], WorkingDir: "/dir" },
      rootfs: { type: "layers", diff_ids: [sha256Digest(tarOf(l1)), sha256Digest(layer2)] },
    },
    layers: [{ blob: gzipSync(tarOf(l1)), gzipped: true }, { blob: layer2 }],
  });
  const manifest = await (
    await fetch(`http://${host}/v2/${repo}/manifests/${digest}`, {
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
    })
  ).arrayBuffer();
  await registry.pushManifest(repo, "v1", "application/vnd.oci.image.index.v1+json", {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest,
        size: manifest.byteLength,
        platform: { os: "linux", architecture: "amd64" },
      },
    ],
  });
}, 60_000);

afterAll(() => {
  registry?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("parseImageRef", () => {
  it("reads Docker's shorthand", () => {
    expect(parseImageRef("debian")).toEqual({
      registry: "registry-1.docker.io",
      repository: "library/debian",
      reference: "latest",
    });
    expect(parseImageRef("e2bdev/base:1.2")).toEqual({
      registry: "registry-1.docker.io",
      repository: "e2bdev/base",
      reference: "1.2",
    });
    expect(parseImageRef("127.0.0.1:5000/a/b:v1")).toEqual({
      registry: "127.0.0.1:5000",
      repository: "a/b",
      reference: "v1",
    });
    expect(parseImageRef(`ghcr.io/x/y@sha256:${"0".repeat(64)}`).reference).toBe(`sha256:${"0".repeat(64)}`);
    expect(() => parseImageRef("bad ref")).toThrow(/not valid/);
  });

  it("speaks plain HTTP only to loopback registries, as Docker does", () => {
    for (const r of ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"]) {
      expect(isLoopbackRegistry(r)).toBe(true);
    }
    for (const r of ["registry-1.docker.io", "10.0.0.1:5000", "localhost.example.com", "127.0.0.1.nip.io"]) {
      expect(isLoopbackRegistry(r)).toBe(false);
    }
  });
});

describe("RegistryClient + applyLayer against a local registry", () => {
  it("pulls an image through its index and unpacks its layers with whiteouts", async () => {
    const client = new RegistryClient();
    const image = await client.pull(`${host}/wrenn/test-image:v1`);
    expect(image.config.config).toMatchObject({ Env: ["PATH=/bin", "GREETING=hi"], WorkingDir: "/dir" });
    expect(image.layers).toHaveLength(2);

    const rootfs = join(work, "rootfs");
    mkdirSync(rootfs);
    for (const layer of image.layers) await applyLayer(rootfs, layer.blob);
    expect(readFileSync(join(rootfs, "etc", "os-release"), "utf8")).toBe("ID=wrenn-test\nVERSION=2\n");
    expect(lstatSync(join(rootfs, "bin", "hello")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(rootfs, "hello-link"))).toBe("bin/hello");
    expect(readdirSync(join(rootfs, "dir"))).toEqual(["keep.txt"]); // whiteout removed gone.txt
    expect(readdirSync(join(rootfs, "opaque"))).toEqual(["new.txt"]); // opaque dir hid old.txt
  });

  it("fails clearly for a missing tag, a missing platform and an escaping layer", async () => {
    const client = new RegistryClient();
    await expect(client.pull(`${host}/wrenn/test-image:nope`)).rejects.toThrow(/answered 404/);
    const arm = new RegistryClient({
      insecureRegistries: [host],
      platform: { os: "linux", architecture: "arm64" },
    });
    await expect(arm.pull(`${host}/wrenn/test-image:v1`)).rejects.toThrow(/no linux\/arm64 variant/);

    const evil = join(work, "evil");
    mkdirSync(join(evil, "x"), { recursive: true });
    symlinkSync("/tmp", join(evil, "x", "out"));
    const target = join(work, "evil-root");
    mkdirSync(target);
    await applyLayer(target, tarOf(evil));
    // A directory entry replaces the symlink (OCI semantics) ...
    const second = join(work, "evil2");
    mkdirSync(join(second, "x", "out"), { recursive: true });
    writeFileSync(join(second, "x", "out", "pwned"), "x");
    await applyLayer(target, tarOf(second));
    expect(lstatSync(join(target, "x", "out")).isDirectory()).toBe(true);
    // ... but an entry under the symlink with no directory entry first must not land in /tmp.
    symlinkSync("/tmp", join(evil, "y"));
    await applyLayer(target, tarOf(evil));
    const only = execFileSync("tar", ["-C", second, "-cf", "-", "./x/out/pwned"]);
    const renamed = Buffer.from(only);
    renamed.write("./y/pwned\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 0, "latin1");
    fixChecksum(renamed);
    await expect(applyLayer(target, renamed)).rejects.toThrow(/outside the root/);
    expect(existsSync("/tmp/pwned")).toBe(false);
  });
});
