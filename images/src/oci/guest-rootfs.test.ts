import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageLayout } from "../paths.ts";
import { type GuestImage, resolveGuestImage } from "../resolve.ts";
import { imageToGuestRootfs, resolveInTree } from "./guest-rootfs.ts";

// Converts a real Debian tree (the guest image's own debootstrap cache, with tini, iproute2 and
// the default user taken out, as in a Docker image) into a guest rootfs, and reads the result
// back with debugfs. Fails (never skips) without a built guest image (`wrenn image build`).
let work: string;
let guest: GuestImage;
let debianTree: string;

const debugfs = (image: string, request: string) =>
  execFileSync("debugfs", ["-R", request, image], { stdio: ["ignore", "pipe", "ignore"] }).toString();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wrenn-guest-rootfs-"));
  guest = await resolveGuestImage();
  const cache = imageLayout().cacheDir;
  const base = readdirSync(cache).find((n) => n.startsWith("rootfs-base-"));
  if (!base) throw new Error(`no debootstrap tree in ${cache}: run wrenn image build`);
  debianTree = join(work, "debian");
  execFileSync("cp", ["-a", `${join(cache, base)}/.`, debianTree]);
  rmSync(join(debianTree, "usr/bin/tini"));
  rmSync(join(debianTree, "usr/bin/ip"), { force: true });
  rmSync(join(debianTree, "usr/sbin/ip"), { force: true });
  for (const f of ["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"]) {
    const p = join(debianTree, f);
    const kept = readFileSync(p, "utf8")
      .split("\n")
      .filter((l) => !l.startsWith("user:"));
    writeFileSync(p, kept.join("\n"));
  }
  rmSync(join(debianTree, "home/user"), { recursive: true, force: true });
  rmSync(join(debianTree, "etc/resolv.conf"), { force: true });
  symlinkSync("../run/systemd/resolve/stub-resolv.conf", join(debianTree, "etc/resolv.conf"));
  writeFileSync(join(debianTree, "etc/from-the-image"), "yes\n");
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("resolveInTree", () => {
  it("follows relative and absolute links inside the tree only", async () => {
    const root = join(work, "links");
    mkdirSync(join(root, "usr/lib"), { recursive: true });
    writeFileSync(join(root, "usr/lib/real"), "");
    symlinkSync("usr/lib", join(root, "lib"));
    symlinkSync("/lib/real", join(root, "abs"));
    symlinkSync("../../etc/passwd", join(root, "usr/lib/up"));
    expect(await resolveInTree(root, "/lib/real")).toBe(join(root, "usr/lib/real"));
    expect(await resolveInTree(root, "/abs")).toBe(join(root, "usr/lib/real"));
    // `..` past the root stays at the root: the host's /etc/passwd is never reached.
    expect(await resolveInTree(root, "/lib/up")).toBeUndefined();
  });
});

describe("imageToGuestRootfs", () => {
  it("adds node, envd, wrenn-init, tini, ip and the default user to a Debian image", async () => {
    const out = join(work, "debian.ext4");
    const ext4 = await imageToGuestRootfs({
      treeDir: debianTree,
      workDir: join(work, "w1"),
      guest,
      out,
      imageInfo: { source: "test" },
    });
    expect(ext4.apparentBytes).toBeGreaterThan(ext4.contentBytes);
    expect(debugfs(out, "cat /etc/from-the-image")).toBe("yes\n");
    expect(debugfs(out, "cat /etc/passwd")).toMatch(/^user:x:1000:1000::\/home\/user:\/bin\/bash$/m);
    expect(debugfs(out, "cat /etc/sudoers.d/user")).toContain("NOPASSWD");
    expect(debugfs(out, "cat /usr/local/sbin/ip")).toContain("/usr/local/lib/wrenn/busybox ip");
    expect(debugfs(out, "cat /usr/local/sbin/wrenn-init")).toContain(
      "exec /usr/bin/tini -- /usr/local/bin/envd",
    );
    expect(debugfs(out, "stat /usr/bin/tini")).toMatch(/Type: regular\s+Mode:\s+0755/);
    expect(debugfs(out, "stat /usr/local/bin/node")).toMatch(/Type: regular/);
    expect(debugfs(out, "stat /etc/resolv.conf")).toMatch(/Type: regular/);
    expect(debugfs(out, "ls /usr/local/lib/envd")).toContain("envd.mjs");
    expect(JSON.parse(debugfs(out, "cat /etc/wrenn/image.json"))).toMatchObject({
      source: "test",
      guestImage: guest.hash,
    });
  });

  it("refuses a musl image (Alpine) and one too big for the disk, saying why", async () => {
    const alpine = join(work, "alpine");
    mkdirSync(join(alpine, "lib"), { recursive: true });
    mkdirSync(join(alpine, "bin"), { recursive: true });
    writeFileSync(join(alpine, "lib/ld-musl-x86_64.so.1"), "");
    await expect(
      imageToGuestRootfs({
        treeDir: alpine,
        workDir: join(work, "w2"),
        guest,
        out: join(work, "a.ext4"),
        imageInfo: {},
      }),
    ).rejects.toThrow(/no glibc.*Alpine/);
    await expect(
      imageToGuestRootfs({
        treeDir: debianTree,
        workDir: join(work, "w3"),
        guest,
        out: join(work, "small.ext4"),
        maxContentBytes: 64 * 2 ** 20,
        imageInfo: {},
      }),
    ).rejects.toThrow(/more than the disk size of 64 MiB/);
  });
});
