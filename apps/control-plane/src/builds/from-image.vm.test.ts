import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageLayout } from "@wrenn/images";
import { startTestRegistry, type TestRegistry, tarOf } from "@wrenn/images/oci/test-registry";
import { startTestDeployment, type TestDeployment } from "@wrenn/testing/deployment";
import { type LogEntry, Sandbox, Template } from "e2b";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointE2bSdkAt } from "../e2b/e2b-sdk-env.ts";

// Templates FROM an OCI image, end to end: a real registry (Debian's docker-registry) on
// loopback holding a Debian image this test makes (the guest image's own debootstrap tree
// as layer 1; layer 2 whites out tini and ip and drops the user `user`, as a Docker image
// lacks them, and adds files), a real deployment (control plane with build workers, host
// agent, QEMU microVMs). A Dockerfile `FROM <registry>/<image>:<tag>` through /v1/builds,
// then the official e2b SDK's Template().fromImage() with registry credentials.
// Fails (never skips) without QEMU, docker-registry or the guest image.
let d: TestDeployment;
let registry: TestRegistry;
let work: string;
let image: string;
let restoreE2bEnv: (() => void) | undefined;
const BUILD_MS = 600_000;
const REGISTRY_PASSWORD = `pw-${randomBytes(8).toString("hex")}`;

/** The Debian test image: the debootstrap tree, then a layer that makes it look like a Docker image. */
async function pushDebianImage(): Promise<string> {
  const cache = imageLayout().cacheDir;
  const base = readdirSync(cache).find((n) => n.startsWith("rootfs-base-"));
  if (!base) throw new Error(`no debootstrap tree in ${cache}: run wrenn image build`);
  const top = join(work, "top");
  for (const dir of ["usr/bin", "etc", "home", "opt/from-image"])
    mkdirSync(join(top, dir), { recursive: true });
  writeFileSync(join(top, "usr/bin/.wh.tini"), "");
  writeFileSync(join(top, "usr/bin/.wh.ip"), "");
  writeFileSync(join(top, "home/.wh.user"), "");
  for (const f of ["passwd", "group", "shadow", "gshadow"]) {
    const lines = readFileSync(join(cache, base, "etc", f), "utf8").split("\n");
    writeFileSync(join(top, "etc", f), lines.filter((l) => !l.startsWith("user:")).join("\n"));
  }
  writeFileSync(join(top, "opt/from-image/hello.txt"), "hello from the image\n");
  await registry.pushImage("wrenn/debian", "v1", {
    config: {
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE_GREETING=from-oci"],
        WorkingDir: "/opt/from-image",
      },
    },
    layers: [{ blob: tarOf(join(cache, base)) }, { blob: tarOf(top) }],
  });
  return `${registry.host}/wrenn/debian:v1`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wrenn-from-image-"));
  registry = await startTestRegistry(work);
  image = await pushDebianImage();
  d = await startTestDeployment({
    agentArgs: ["--network", "netns"],
    env: { WRENN_ENCRYPTION_KEY: randomBytes(32).toString("hex") },
  });
  restoreE2bEnv = pointE2bSdkAt(d);
}, 300_000);

afterAll(async () => {
  restoreE2bEnv?.();
  await d?.close();
  registry?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${d.url}${path}`, {
    method,
    headers: { "x-api-key": d.apiKey, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function waitBuild(id: string): Promise<{ status: string; error: string | null }> {
  const deadline = Date.now() + BUILD_MS;
  for (;;) {
    const { body } = await api("GET", `/v1/builds/${id}`);
    if (["ready", "error", "cancelled"].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`build ${id} stuck: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("templates from an OCI image", () => {
  it(
    "a Dockerfile FROM <registry>/<image>:<tag> makes a template whose sandboxes hold the image's files",
    async () => {
      const submitted = await api("POST", "/v1/builds", {
        name: "from-oci",
        dockerfile: `FROM ${image}\nRUN id -un > /home/user/built-as.txt`,
        skip_pre_post: true,
      });
      expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
      const build = await waitBuild(submitted.body.id);
      const logs = await api("GET", `/v1/builds/${submitted.body.id}/logs?limit=5000`);
      const text = (logs.body.logs as { message: string }[]).map((l) => l.message).join("\n");
      expect(build.status, `${build.error}\n${text}`).toBe("ready");
      expect(text).toMatch(/base image .* is sha256:[0-9a-f]{64}/);
      expect(text).toMatch(/pulling the image on host/);

      const sbx = await api("POST", "/v1/sandboxes", { template: "from-oci", timeout_sec: 0 });
      expect(sbx.status, JSON.stringify(sbx.body)).toBe(201);
      const sh = async (cmd: string) =>
        (await api("POST", `/v1/sandboxes/${sbx.body.id}/exec`, { cmd })).body;
      try {
        const out = await sh(
          "cat /opt/from-image/hello.txt /home/user/built-as.txt; whoami; pwd; echo $IMAGE_GREETING; ls /usr/local/lib/wrenn",
        );
        expect(out.stdout).toBe("hello from the image\nuser\nuser\n/opt/from-image\nfrom-oci\nbusybox\n");
      } finally {
        await api("DELETE", `/v1/sandboxes/${sbx.body.id}`);
      }
    },
    BUILD_MS,
  );

  it(
    "the e2b SDK's Template().fromImage() with registry credentials reuses the converted image",
    async () => {
      const logs: LogEntry[] = [];
      const template = Template()
        .fromImage(image, { username: "wrenn", password: REGISTRY_PASSWORD })
        .runCmd("cat /opt/from-image/hello.txt > /home/user/seen.txt");
      await Template.build(template, "e2b-from-oci", { onBuildLogs: (entry) => logs.push(entry) });
      const text = logs.map((l) => l.message).join("\n");
      expect(text).toMatch(/converted image is reused from the cache/);
      expect(text).not.toContain(REGISTRY_PASSWORD);

      const sbx = await Sandbox.create("e2b-from-oci", { timeoutMs: 120_000 });
      try {
        expect((await sbx.commands.run("cat /home/user/seen.txt")).stdout).toBe("hello from the image\n");
      } finally {
        await sbx.kill();
      }
      // The build's stored source keeps no password either.
      const builds = await api("GET", "/v1/builds?name=e2b-from-oci");
      expect(JSON.stringify(builds.body)).not.toContain(REGISTRY_PASSWORD);
    },
    BUILD_MS,
  );
});
